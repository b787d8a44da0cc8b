import { describe, expect, it } from 'vitest'
import { LowestLatency } from '../../../../src/core/balance/index.js'
import { cand, noRand } from './helpers.js'

describe('latency (peak-EWMA TTFT × (in-flight + 1))', () => {
  const cases: { name: string, keys: [number | null, number][], want: number }[] = [
    { name: 'lower TTFT when idle', keys: [[800, 0], [300, 0]], want: 1 },
    // 300 × 4 = 1 200 loses to 800 × 1 = 800.
    { name: 'a fast key loses once it carries enough', keys: [[800, 0], [300, 3]], want: 0 },
    // 300 × 2 = 600 beats 800 × 1.
    { name: 'a fast key still wins with little in flight', keys: [[800, 0], [300, 1]], want: 1 },
    // The unknown key costs as the best known (300) × 1, which beats 300 × 2 and ties-and-wins 300 × 1.
    { name: 'tries an unknown key that ties the best', keys: [[300, 0], [null, 0]], want: 1 },
    { name: 'tries an unknown key over a busier known one', keys: [[300, 1], [null, 0], [900, 0]], want: 1 },
    // 300 × (2 + 1) = 900 for the unknown key loses to 300 × 1.
    { name: 'does not pile onto an unknown key', keys: [[300, 0], [null, 2]], want: 0 },
  ]
  for (const c of cases) {
    it(c.name, () => {
      const cs = c.keys.map(([ttftMs, inflight], i) => cand(`k${i}`, { ttftMs, inflight }))
      expect(new LowestLatency().pick(cs, null, noRand)).toBe(c.want)
    })
  }

  it('rotates among keys with no estimate yet, so all of them get measured', () => {
    const cs = ['a', 'b', 'c'].map((id) => cand(id))
    const s = new LowestLatency()
    expect(Array.from({ length: 6 }, () => cs[s.pick(cs, null, noRand)]!.id).join('')).toBe('abcabc')
  })

  it('moves off a key whose latency peaks', () => {
    const cs = [cand('a', { ttftMs: 200 }), cand('b', { ttftMs: 250 })]
    const s = new LowestLatency()
    expect(s.pick(cs, null, noRand)).toBe(0)
    cs[0]!.ttftMs = 1_500
    expect(s.pick(cs, null, noRand)).toBe(1)
  })
})
