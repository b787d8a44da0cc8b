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

/** A source whose database can be taken down and brought back; every failed call is counted. */
function outageSource(records: Record<string, KeyRecord>, consumers = 1) {
  const state = { down: false, find: 0, count: 0, failures: 0 }
  const refuse = (): never => {
    state.failures++
    throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })
  }
  const src: KeySource = {
    findByHash: async (hash) => {
      state.find++
      if (state.down) refuse()
      return records[hash] ?? null
    },
    countConsumers: async () => {
      state.count++
      if (state.down) refuse()
      return consumers
    },
  }
  return { src, state }
}

describe('ConsumerDirectory while the database cannot be reached (stale-if-error)', () => {
  const ttlMs = 30_000
  const staleMs = 600_000

  it('a key it found keeps working past its TTL, for at most 10 minutes more; then auth_unavailable with Retry-After', async () => {
    let now = 0
    const { src, state } = outageSource({ h1: record() })
    const dir = new ConsumerDirectory(src, () => now, { ttlMs })
    expect((await dir.resolve('h1', tiers, 0))?.name).toBe('alice')
    state.down = true
    now = ttlMs + 1
    expect((await dir.resolve('h1', tiers, 0))?.name).toBe('alice')
    now = ttlMs + staleMs - 1
    expect((await dir.resolve('h1', tiers, 0))?.name).toBe('alice')
    now = ttlMs + staleMs
    const err = await dir.resolve('h1', tiers, 0).then(() => null, (e: unknown) => e)
    expect(err).toMatchObject({ code: 'auth_unavailable', status: 503, retryAfter: 5 })
    expect((err as Error).cause).toMatchObject({ code: 'ECONNREFUSED' })
  })

  it('a key it never saw, or saw as unknown, cannot be checked: 503 auth_unavailable, never a 401 or a 500', async () => {
    let now = 0
    const { src, state } = outageSource({ h1: record() })
    const dir = new ConsumerDirectory(src, () => now, { ttlMs, negativeTtlMs: 5_000 })
    expect(await dir.resolve('unknown', tiers, 0)).toBeNull()
    state.down = true
    await expect(dir.resolve('h1', tiers, 0)).rejects.toMatchObject({ code: 'auth_unavailable' })
    now = 5_000
    await expect(dir.resolve('unknown', tiers, 0)).rejects.toMatchObject({ code: 'auth_unavailable' })
  })

  it('a revoked key it knew stays refused', async () => {
    let now = 0
    const { src, state } = outageSource({ gone: record({ revokedAt: 1 }) })
    const dir = new ConsumerDirectory(src, () => now, { ttlMs })
    expect(await dir.resolve('gone', tiers, 0)).toBeNull()
    state.down = true
    now = ttlMs + 1
    expect(await dir.resolve('gone', tiers, 0)).toBeNull()
  })

  it('asks the database again at most every retryMs while it fails, one lookup for many requests; back up, the fresh answer wins', async () => {
    let now = 0
    const records = { h1: record() }
    const { src, state } = outageSource(records)
    const dir = new ConsumerDirectory(src, () => now, { ttlMs, retryMs: 5_000 })
    await dir.resolve('h1', tiers, 0)
    state.down = true
    now = ttlMs
    await Promise.all(Array.from({ length: 20 }, () => dir.resolve('h1', tiers, 0)))
    expect(state.failures).toBe(1)
    now = ttlMs + 4_999
    await dir.resolve('h1', tiers, 0)
    expect(state.failures).toBe(1)
    now = ttlMs + 5_000
    await dir.resolve('h1', tiers, 0)
    expect(state.failures).toBe(2)
    // Revoked elsewhere during the outage: once the database answers, the revocation counts.
    records.h1 = record({ revokedAt: 2 })
    state.down = false
    now = ttlMs + 10_000
    expect(await dir.resolve('h1', tiers, 0)).toBeNull()
  })

  it('an invalidate() (a revoke here) while the database is down: the stale entry read before it is not served', async () => {
    let now = 0
    const { src, state } = outageSource({ h1: record() })
    const dir = new ConsumerDirectory(src, () => now, { ttlMs })
    await dir.resolve('h1', tiers, 0)
    state.down = true
    now = ttlMs + 1
    const pending = dir.resolve('h1', tiers, 0)
    dir.invalidate()
    await expect(pending).rejects.toMatchObject({ code: 'auth_unavailable' })
    await expect(dir.resolve('h1', tiers, 0)).rejects.toMatchObject({ code: 'auth_unavailable' })
  })

  it('tells its health port whether the database answered', async () => {
    let now = 0
    const { src, state } = outageSource({ h1: record() })
    const seen: string[] = []
    const dir = new ConsumerDirectory(src, () => now, { ttlMs, health: { answered: () => seen.push('ok'), failed: () => seen.push('failed') } })
    await dir.resolve('h1', tiers, 0)
    state.down = true
    now = ttlMs
    await dir.resolve('h1', tiers, 0)
    await dir.resolve('h2', tiers, 0).catch(() => undefined)
    state.down = false
    now = ttlMs + 5_000
    await dir.resolve('h1', tiers, 0)
    expect(seen).toEqual(['ok', 'failed', 'failed', 'ok'])
  })

  it('auth unset: "no consumers yet" stands while the database is down; never having asked, it cannot tell: auth_unavailable', async () => {
    let now = 0
    const { src, state } = outageSource({}, 0)
    const dir = new ConsumerDirectory(src, () => now, { emptyCheckMs: 5_000 })
    expect(await dir.consumersExist()).toBe(false)
    state.down = true
    now = 5_000
    expect(await dir.consumersExist()).toBe(false)
    expect(dir.consumersExist()).toBe(false) // and it does not ask again at once
    const fresh = new ConsumerDirectory(src, () => now)
    await expect(fresh.consumersExist()).rejects.toMatchObject({ code: 'auth_unavailable', status: 503 })
  })
})

/** A key source whose lookups finish only when the test says so, answering from `records` as they are then. */
function controlledSource(records: Map<string, KeyRecord>) {
  const pending: Array<{ hash: string; answer: () => void }> = []
  const src: KeySource = {
    findByHash: (hash) => {
      // The record is read when the lookup started, as a database read that raced the write would.
      const seen = records.get(hash) ?? null
      return new Promise((resolve) => pending.push({ hash, answer: () => resolve(seen) }))
    },
    countConsumers: async () => 1,
  }
  const answerAll = async (): Promise<void> => {
    while (pending.length > 0) {
      for (const p of pending.splice(0)) p.answer()
      // Let the awaiting resolve() calls run (and start any new lookup) before looking again.
      for (let i = 0; i < 10; i++) await Promise.resolve()
    }
  }
  return { src, pending, answerAll }
}

describe('ConsumerDirectory and revocation', () => {
  it('a revoke wins over a lookup that started before it: the stale answer is neither used nor cached', async () => {
    const records = new Map([['h1', record()]])
    const { src, pending, answerAll } = controlledSource(records)
    const dir = new ConsumerDirectory(src, () => 0, { ttlMs: 60_000 })
    const before = dir.resolve('h1', tiers, 0)
    expect(pending).toHaveLength(1)
    // The admin API revokes the key (database first, then the cache) while the lookup is out.
    records.set('h1', record({ revokedAt: 1 }))
    dir.invalidate()
    const after = dir.resolve('h1', tiers, 0)
    await answerAll()
    expect(await before).toBeNull()
    expect(await after).toBeNull()
    // And nothing stale was cached for the TTL.
    const later = dir.resolve('h1', tiers, 0)
    await answerAll()
    expect(await later).toBeNull()
  })

  it('a consumer disabled while its key is looked up is refused by every request, then and later', async () => {
    const records = new Map([['h1', record()]])
    const { src, answerAll } = controlledSource(records)
    const dir = new ConsumerDirectory(src, () => 0, { ttlMs: 60_000 })
    const waiting = [dir.resolve('h1', tiers, 0), dir.resolve('h1', tiers, 0)]
    records.set('h1', record({ consumerDisabled: true }))
    dir.invalidate()
    await answerAll()
    expect(await Promise.all(waiting)).toEqual([null, null])
    const again = dir.resolve('h1', tiers, 0)
    await answerAll()
    expect(await again).toBeNull()
  })

  it('a lookup that started after the revoke is still shared by the requests that came with it', async () => {
    const records = new Map([['h1', record()]])
    const { src, pending, answerAll } = controlledSource(records)
    const dir = new ConsumerDirectory(src, () => 0, { ttlMs: 60_000 })
    const stale = dir.resolve('h1', tiers, 0)
    records.set('h1', record({ tier: null }))
    dir.invalidate()
    const fresh = [dir.resolve('h1', tiers, 0), dir.resolve('h1', tiers, 0)]
    // The stale lookup and one fresh one shared by both new requests.
    expect(pending).toHaveLength(2)
    await answerAll()
    const [a, b] = await Promise.all(fresh)
    expect(a?.tier).toBeNull()
    expect(b).toBe(a)
    expect((await stale)?.tier).toBeNull()
  })
})
