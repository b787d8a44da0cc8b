import { describe, expect, it } from 'vitest'
import { ConsumerDirectory, type KeyRecord, type KeySource } from '../../../../src/stages/auth/index.js'

const record = (over: Partial<KeyRecord> = {}): KeyRecord => ({
  keyId: 'key_1',
  prefix: 'sk-sluice-AbCd',
  consumerId: 'con_1',
  consumerName: 'alice',
  tier: 'basic',
  overrides: null,
  consumerDisabled: false,
  revokedAt: null,
  expiresAt: null,
  ...over,
})

function source(records: Record<string, KeyRecord>, consumers = 1) {
  const calls = { find: 0, count: 0 }
  const src: KeySource = {
    findByHash: async (hash) => {
      calls.find++
      return records[hash] ?? null
    },
    countConsumers: async () => {
      calls.count++
      return consumers
    },
  }
  return { src, calls }
}

const tiers = new Map([['basic', { rpm: 5 }]])

describe('ConsumerDirectory', () => {
  it('asks the database once per key per TTL, and once for many concurrent requests', async () => {
    let now = 0
    const { src, calls } = source({ h1: record() })
    const dir = new ConsumerDirectory(src, () => now, { ttlMs: 1000 })
    const [a, b] = await Promise.all([dir.resolve('h1', tiers, 0), dir.resolve('h1', tiers, 0)])
    expect(a?.name).toBe('alice')
    expect(b).toBe(a)
    expect(a?.settings.rpm).toBe(5)
    expect(calls.find).toBe(1)
    now = 999
    await dir.resolve('h1', tiers, 0)
    expect(calls.find).toBe(1)
    now = 1000
    await dir.resolve('h1', tiers, 0)
    expect(calls.find).toBe(2)
  })

  it('refuses revoked and expired keys and disabled consumers; remembers unknown keys briefly', async () => {
    let now = 0
    const { src, calls } = source({ revoked: record({ revokedAt: 5 }), expired: record({ expiresAt: 100 }), off: record({ consumerDisabled: true }) })
    const dir = new ConsumerDirectory(src, () => now, { negativeTtlMs: 50 })
    expect(await dir.resolve('revoked', tiers, 0)).toBeNull()
    expect(await dir.resolve('off', tiers, 0)).toBeNull()
    expect(await dir.resolve('expired', tiers, 99)).not.toBeNull()
    expect(await dir.resolve('expired', tiers, 100)).toBeNull()
    expect(await dir.resolve('nope', tiers, 0)).toBeNull()
    const before = calls.find
    await dir.resolve('nope', tiers, 0)
    expect(calls.find).toBe(before)
    now = 50
    await dir.resolve('nope', tiers, 0)
    expect(calls.find).toBe(before + 1)
  })

  it('a reload with new tiers gives new settings; invalidate forgets everything', async () => {
    const { src, calls } = source({ h1: record() })
    const dir = new ConsumerDirectory(src, () => 0)
    expect((await dir.resolve('h1', tiers, 0))?.settings.rpm).toBe(5)
    expect((await dir.resolve('h1', new Map([['basic', { rpm: 9 }]]), 0))?.settings.rpm).toBe(9)
    dir.invalidate()
    await dir.resolve('h1', tiers, 0)
    expect(calls.find).toBe(2)
  })

  it('knows whether consumers exist: asks again every few seconds while none does, never once one does', async () => {
    let now = 0
    let consumers = 0
    const calls = { count: 0 }
    const dir = new ConsumerDirectory({ findByHash: async () => null, countConsumers: async () => (calls.count++, consumers) }, () => now, { emptyCheckMs: 5000 })
    expect(await dir.consumersExist()).toBe(false)
    expect(dir.consumersExist()).toBe(false)
    consumers = 1
    now = 5000
    expect(await dir.consumersExist()).toBe(true)
    expect(dir.consumersExist()).toBe(true)
    expect(calls.count).toBe(2)
  })
})
