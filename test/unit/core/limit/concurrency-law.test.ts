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

  it('slow start: × 1.5 per round of L saturated answers until the first concurrency 429', () => {
    const law = new ConcurrencyLaw(() => undefined)
    // One round = floor(L) answers, each at full saturation.
    const rounds: number[] = []
    let now = t0
    for (let r = 0; r < 5; r++) {
      const n = Math.floor(law.limit)
      for (let i = 0; i < n; i++) law.succeeded((now += 10), Math.floor(law.limit))
      rounds.push(law.limit)
    }
    expect(rounds).toEqual([12, 18, 27, 40.5, 60.5])
    expect(law.history.every((h) => h.reason === 'slow_start')).toBe(true)
    expect(law.slowStart).toBe(true)
  })

  it('a refusal above every level taken since the last cut is an overshoot: L and Ĉ go to the level below, not 0.9 × it', () => {
    const table: { readonly goodLevel: number; readonly refused: readonly number[]; readonly accepted: number; readonly limit: number; readonly reason: string }[] = [
      // slow start past a cap of 100: the burst's later, higher refusals teach nothing more
      { goodLevel: 91, refused: [103, 101, 105], accepted: 100, limit: 100, reason: 'overshoot_429' },
      // a cap of 95 below the first refusal that came back
      { goodLevel: 91, refused: [101, 96], accepted: 95, limit: 95, reason: 'overshoot_429' },
      // refused at a level taken before: capacity went down, the usual cut to 0.9 × Ĉ
      { goodLevel: 100, refused: [90], accepted: 89, limit: 80.1, reason: 'concurrent_429' },
      // nothing succeeded yet (the first burst of a fresh key): the usual cut
      { goodLevel: 0, refused: [7, 5], accepted: 4, limit: 3.6, reason: 'concurrent_429' },
    ]
    for (const row of table) {
      const law = new ConcurrencyLaw(() => undefined)
      law.restore({ learnedLimit: 120, acceptedLevel: null, concurrent429Count: 0, rpm429Count: 0, tpm429Count: 0, last429At: null, last429Type: null, lastProbeAt: null, history: [] })
      if (row.goodLevel > 0) law.succeeded(t0, 1, row.goodLevel)
      for (const [i, level] of row.refused.entries()) law.cut(t0 + 100 + i, level)
      expect([law.accepted, law.limit, law.history.at(-1)?.reason], JSON.stringify(row)).toEqual([row.accepted, expect.closeTo(row.limit, 6), row.reason])
      expect(law.slowStart).toBe(false)
    }
  })

  it('a success granted before a cut at a taken level does not make a later refusal look like an overshoot', () => {
    const law = new ConcurrencyLaw(() => undefined)
    law.restore({ learnedLimit: 40, acceptedLevel: 40, concurrent429Count: 0, rpm429Count: 0, tpm429Count: 0, last429At: null, last429Type: null, lastProbeAt: null, history: [] })
    const before = law.era
    law.succeeded(t0, 40, 40, before)
    law.cut(t0 + 10, 40) // the cap dropped: Ĉ 39, L 35.1
    law.succeeded(t0 + 20, 35, 38, before) // granted before the drop
    law.cut(t0 + 30, 35)
    expect(law.accepted).toBe(34)
    expect(law.limit).toBeCloseTo(30.6)
  })

  it('a probe refused at a level the gateway had seen succeed (an answer still on its way back) costs one step, not 10 %', () => {
    const law = new ConcurrencyLaw(() => undefined)
    law.restore({ learnedLimit: 40, acceptedLevel: 40, concurrent429Count: 0, rpm429Count: 0, tpm429Count: 0, last429At: null, last429Type: null, lastProbeAt: null, history: [] })
    law.succeeded(t0, 40) // quiet since ever: the probe raises Ĉ to 44
    expect(law.accepted).toBe(44)
    for (let i = 1; i <= 50 && law.limit < 41; i++) law.succeeded(t0 + i * 10, Math.floor(law.limit), 41)
    expect(Math.floor(law.limit)).toBe(41)
    law.cut(t0 + 1_000, 41)
    law.cut(t0 + 1_050, 42) // the rest of its burst
    expect([law.accepted, law.limit, law.history.at(-1)?.reason]).toEqual([40, 40, 'overshoot_429'])
  })

  it('slow start that ends in an overshoot checks the level above 15 s later, by one, then probes as usual', () => {
    const law = new ConcurrencyLaw(() => undefined)
    for (let i = 0; i < 4; i++) law.succeeded(t0, 8, 9) // slow start to L 10; level 9 taken
    // Refused at 10: the upstream may still have counted an answer the gateway had seen (cap 10, not 9).
    law.cut(t0 + 100, 10)
    expect([law.accepted, law.limit, law.history.at(-1)?.reason]).toEqual([9, 9, 'overshoot_429'])
    law.succeeded(t0 + 14_000, 9)
    expect(law.accepted).toBe(9)
    law.succeeded(t0 + 15_200, 9)
    expect(law.accepted).toBe(10)
    expect(law.history.at(-1)).toMatchObject({ old_limit: 9, new_limit: 10, reason: 'probe_increase' })
    // Refused again: the cap was 9 after all; the next probe waits four quiet minutes (max(1, 10 % of 9) = 1).
    for (let t = t0 + 15_300; law.limit < 10; t += 100) law.succeeded(t, 9)
    law.cut(t0 + 20_000, 10)
    expect([law.accepted, law.limit]).toEqual([9, 9])
    law.succeeded(t0 + 20_000 + 3 * 60_000, 9)
    expect(law.accepted).toBe(9)
    law.succeeded(t0 + 20_000 + 4 * 60_000, 9)
    expect(law.accepted).toBe(10)
  })

  it('reset forgets everything it learned', () => {
    const law = new ConcurrencyLaw(() => undefined)
    law.cut(t0, 3)
    law.reset()
    expect([law.limit, law.accepted, law.lastProbeAt, law.history.length]).toEqual([concurrencyDefaults.initial, null, null, 0])
  })
})

describe('ConcurrencyLaw.follow: several instances, one law (state: redis)', () => {
  const fresh = () => new ConcurrencyLaw(() => undefined)

  it('a cut and a probe bump the generation, growth does not', () => {
    const law = fresh()
    law.succeeded(t0, 8)
    expect([law.generation, law.limit]).toEqual([0, 8.5])
    law.cut(t0 + 10, 12) // slow start overshoot: Ĉ = 11
    expect(law.generation).toBe(1)
    law.cut(t0 + 20, 13) // the same burst's echo: nothing moves, nor the generation
    expect([law.generation, law.accepted]).toEqual([1, 11])
    // Growth back to Ĉ keeps the generation; slow start's exit is checked one level up 15 s later: a probe, a new one.
    for (let t = t0 + 5_000; law.limit < 11; t += 10) law.succeeded(t, 11)
    expect(law.generation).toBe(1)
    law.succeeded(t0 + 15_100, 11)
    expect([law.generation, law.accepted, law.history.at(-1)?.reason]).toEqual([2, 12, 'probe_increase'])
  })

  it("a peer's cut is taken whole: L and Ĉ, slow start over, growth held 5 s, and its burst's echoes cut nothing more here", () => {
    const law = fresh()
    for (let i = 0; i < 8; i++) law.succeeded(t0 + i, 8) // slow start: L = 11 (8 is no longer 80 % of it), good level 8
    law.follow(t0 + 100, 6, 6, 1, 6)
    expect([law.limit, law.accepted, law.slowStart, law.generation]).toEqual([6, 6, false, 1])
    expect(law.history.at(-1)).toMatchObject({ old_limit: 11, new_limit: 6, reason: 'followed', inflight: 6 })
    // The rest of the burst that refused the peer: above the level it settled on, an echo.
    law.cut(t0 + 200, 8)
    expect([law.limit, law.accepted, law.generation]).toEqual([6, 6, 1])
    // No growth within the hold, then +1/L again.
    law.succeeded(t0 + 1_000, 6)
    expect(law.limit).toBe(6)
    law.follow(t0 + 5_200, 6, 6, 1, 6) // nothing new
    expect(law.limit).toBe(6)
  })

  it("successes granted before a peer's cut say nothing about the cap after it", () => {
    const law = fresh()
    const era = law.era
    law.follow(t0, 4, 4, 1, 6)
    law.succeeded(t0 + 6_000, 7, 7, era) // granted at 7 before the cut
    // Refused at 5 now: a capacity cut (level 5 was never taken in this era), not an overshoot of 7.
    law.cut(t0 + 7_000, 5)
    expect(law.accepted).toBe(4)
  })

  it("a peer's growth at the same generation is taken only where it is ahead; an older generation is ignored", () => {
    const law = fresh()
    law.follow(t0, 6, 8, 3, 6)
    law.follow(t0 + 10, 5, 8, 3, 6)
    expect(law.limit).toBe(6)
    law.follow(t0 + 20, 9, 9, 2, 6)
    expect([law.limit, law.accepted]).toEqual([6, 8])
    law.succeeded(t0 + 6_000, 6) // 6 + 1/6: the fraction stays when the whole limit agrees
    law.follow(t0 + 6_010, 6, 8, 3, 6)
    expect(law.limit).toBeCloseTo(6 + 1 / 6)
  })

  it("a peer's shallower cut of the same burst is taken, Ĉ with it: this law's deeper one may have come from a request refused out of order", () => {
    const law = fresh()
    law.cut(t0, 4) // refused at level 4: Ĉ 3, L 2.7, generation 1
    expect([law.accepted, law.generation]).toEqual([3, 1])
    law.follow(t0 + 10, 6, 6, 1, 6)
    expect([law.limit, law.accepted, law.generation]).toEqual([6, 6, 1])
  })

  it("a peer's probe (a later generation, a higher Ĉ) is this law's probe too: refused above the old Ĉ, it fails here as an overshoot, not a capacity cut", () => {
    const law = fresh()
    law.follow(t0, 6, 6, 1, 6)
    law.follow(t0 + 200_000, 6, 7, 2, 6)
    expect([law.accepted, law.lastProbeAt, law.generation]).toEqual([7, t0 + 200_000, 2])
    law.follow(t0 + 201_000, 7, 7, 2, 6)
    law.cut(t0 + 202_000, 7)
    expect([law.limit, law.accepted, law.generation]).toEqual([6, 6, 3])
    expect(law.history.at(-1)?.reason).toBe('overshoot_429')
  })
})
