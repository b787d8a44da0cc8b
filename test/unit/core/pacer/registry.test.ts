import { describe, expect, test } from 'vitest'
import { PacerRegistry } from '../../../../src/core/pacer/registry.js'

const T0 = 1_000_000

describe('PacerRegistry', () => {
  test('provider/key id for key-scoped limits, provider/key/model for key × model', () => {
    const reg = new PacerRegistry()
    const key = reg.obtain('openai', 'k1', null, { rpm: 60, tpm: null })
    const perModel = reg.obtain('openai', 'k1', 'gpt-4o', { rpm: 60, tpm: null })
    expect(key.id).toBe('openai/k1')
    expect(perModel.id).toBe('openai/k1/gpt-4o')
    expect(perModel.model).toBe('gpt-4o')
    expect(key.model).toBeNull()
    expect(perModel).not.toBe(key)
  })

  test('each model of a key gets its own pacer', () => {
    const reg = new PacerRegistry()
    const a = reg.obtain('anthropic', 'k1', 'claude-sonnet', { rpm: 50, tpm: 40_000 })
    const b = reg.obtain('anthropic', 'k1', 'claude-haiku', { rpm: 50, tpm: 40_000 })
    expect(a).not.toBe(b)
    a.refused(T0, T0 - 1, 'rpm', null)
    expect(a.requests.rate(T0)).toBeCloseTo(24.25, 12)
    expect(b.requests.rate(T0)).toBeCloseTo(48.5, 12)
    expect([...reg.all()].map((p) => p.id).sort()).toEqual(['anthropic/k1/claude-haiku', 'anthropic/k1/claude-sonnet'])
  })

  test('same object on obtain for the same id; ceilings updated, learned state kept', () => {
    const reg = new PacerRegistry()
    const first = reg.obtain('openai', 'k1', null, { rpm: 600, tpm: 100_000 })
    for (let i = 0; i < 300; i++) first.requests.accepted(T0 - 59_000 + i * 100, T0 - 60_000, 1)
    first.refused(T0, T0 - 1, 'rpm', null)
    first.take(T0 + 5_000, 10)

    const again = reg.obtain('openai', 'k1', null, { rpm: 1_000, tpm: 200_000 })
    expect(again).toBe(first)
    expect(again.requests.ceiling).toBe(1_000)
    expect(again.tokens.ceiling).toBe(200_000)
    expect(again.requests.estimate).toBe(300)
    expect(again.refusals.rpm).toBe(1)
    expect(again.inflight).toBe(1)
    expect([...reg.all()]).toHaveLength(1)
  })

  test('different providers or keys never share', () => {
    const reg = new PacerRegistry()
    const limits = { rpm: 60, tpm: null }
    const ids = [
      reg.obtain('openai', 'k1', null, limits),
      reg.obtain('openai', 'k2', null, limits),
      reg.obtain('azure', 'k1', null, limits),
    ].map((p) => p.id)
    expect(ids).toEqual(['openai/k1', 'openai/k2', 'azure/k1'])
    expect([...reg.all()]).toHaveLength(3)
  })

  test('retain drops unknown ids and keeps the rest as they are', () => {
    const reg = new PacerRegistry()
    const keep = reg.obtain('openai', 'k1', null, { rpm: 60, tpm: null })
    const keepModel = reg.obtain('openai', 'k1', 'gpt-4o', { rpm: 60, tpm: null })
    const drop = reg.obtain('openai', 'k2', null, { rpm: 60, tpm: null })
    keep.refused(T0, T0 - 1, 'rpm', null)

    reg.retain(new Set(['openai/k1', 'openai/k1/gpt-4o', 'never/seen']))
    expect([...reg.all()]).toEqual([keep, keepModel])
    expect(reg.obtain('openai', 'k1', null, { rpm: 60, tpm: null })).toBe(keep)
    expect(keep.refusals.rpm).toBe(1)
    // A dropped id comes back as a fresh pacer; the old object still works for requests that hold it.
    const fresh = reg.obtain('openai', 'k2', null, { rpm: 60, tpm: null })
    expect(fresh).not.toBe(drop)
    drop.take(T0, 1)
    expect(drop.inflight).toBe(1)
    expect(fresh.inflight).toBe(0)
  })

  test('retain with an empty set empties the registry', () => {
    const reg = new PacerRegistry()
    reg.obtain('openai', 'k1', null, { rpm: 60, tpm: null })
    reg.obtain('openai', 'k1', 'm', { rpm: 60, tpm: null })
    reg.retain(new Set())
    expect([...reg.all()]).toHaveLength(0)
  })
})
