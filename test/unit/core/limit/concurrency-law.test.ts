import { describe, expect, it } from 'vitest'
import { ConcurrencyLaw } from '../../../../src/core/limit/concurrency-law.js'
import { concurrencyDefaults } from '../../../../src/core/limit/learned-state.js'

const t0 = Date.UTC(2026, 11, 7, 12, 0, 0)

describe('ConcurrencyLaw', () => {
  it('a cut takes L to 0.9 × (refused level − 1), once for a burst at one level', () => {
    let changes = 0
    const law = new ConcurrencyLaw(() => changes++)
    for (let i = 0; i < 5; i++) law.cut(t0, 6)
    expect(law.accepted).toBe(5)
    expect(law.limit).toBeCloseTo(4.5)
    expect(changes).toBe(1)
    expect(law.history).toEqual([{ timestamp: new Date(t0).toISOString(), old_limit: 8, new_limit: 4, reason: 'concurrent_429', inflight: 6 }])
  })

  it('grows by 1/L per saturated success, only 5 s after a cut, and never past Ĉ', () => {
    const law = new ConcurrencyLaw(() => undefined)
    law.cut(t0, 11) // Ĉ = 10; L stays at min(8, 9)
    expect(law.limit).toBe(8)
    law.succeeded(t0 + 1_000, 8)
    expect(law.limit).toBe(8)
    law.succeeded(t0 + 5_000, 8)
    expect(law.limit).toBeCloseTo(8 + 1 / 8)
    law.succeeded(t0 + 5_001, 3) // not saturated
    expect(law.limit).toBeCloseTo(8 + 1 / 8)
    for (let i = 0; i < 100; i++) law.succeeded(t0 + 6_000 + i, 10)
    expect(law.limit).toBe(10)
  })

  it('reset forgets everything it learned', () => {
    const law = new ConcurrencyLaw(() => undefined)
    law.cut(t0, 3)
    law.reset()
    expect([law.limit, law.accepted, law.lastProbeAt, law.history.length]).toEqual([concurrencyDefaults.initial, null, null, 0])
  })
})
