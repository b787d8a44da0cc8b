import { describe, expect, it } from 'vitest'
import { WeightedRoundRobin } from '../../../../src/core/balance/index.js'
import { noRand, shares, weighted, type TestCandidate } from './helpers.js'

function run(cs: readonly TestCandidate[], picks: number, wrr = new WeightedRoundRobin()): string[] {
  const out: string[] = []
  for (let i = 0; i < picks; i++) out.push(cs[wrr.pick(cs, null, noRand)]?.id ?? '-')
  return out
}

describe('smooth weighted round-robin', () => {
  const cases: { weights: Record<string, number>, picks: string }[] = [
    // nginx's own example (ngx_http_upstream_round_robin.c).
    { weights: { a: 5, b: 1, c: 1 }, picks: 'aabacaa' + 'aabacaa' },
    { weights: { a: 1, b: 1, c: 1 }, picks: 'abcabc' },
    { weights: { a: 3, b: 1 }, picks: 'aaba' + 'aaba' },
    { weights: { a: 2, b: 3 }, picks: 'babab' + 'babab' },
    { weights: { a: 4, b: 2, c: 1 }, picks: 'abacaba' },
    // Zero weight: only the positive ones share; all zero: equal shares.
    { weights: { a: 0, b: 1, c: 1 }, picks: 'bcbc' },
    { weights: { a: 0, b: 0 }, picks: 'abab' },
    { weights: { a: 7 }, picks: 'aaa' },
  ]
  for (const c of cases) {
    it(`${JSON.stringify(c.weights)} → ${c.picks}`, () => {
      expect(run(weighted(c.weights), c.picks.length).join('')).toBe(c.picks)
    })
  }

  const ratios: Record<string, number>[] = [
    { a: 5, b: 1, c: 1 },
    { a: 3, b: 2, c: 1, d: 1 },
    { a: 40, b: 40, c: 20 },
    { a: 1.5, b: 0.25, c: 0.75 },
  ]
  for (const weights of ratios) {
    it(`${JSON.stringify(weights)} is within 2 % of the weights over 10,000 picks`, () => {
      const ids = Object.keys(weights)
      const total = Object.values(weights).reduce((a, b) => a + b, 0)
      const got = shares(ids, run(weighted(weights), 10_000))
      ids.forEach((id, i) => {
        const want = weights[id]! / total
        expect(Math.abs(got[i]! - want) / want, `${id}: ${got[i]} vs ${want}`).toBeLessThanOrEqual(0.02)
      })
    })
  }

  it('keeps the others\' place when a candidate drops out and comes back', () => {
    const wrr = new WeightedRoundRobin()
    const all = weighted({ a: 5, b: 1, c: 1 })
    const withoutC = all.filter((c) => c.id !== 'c')
    const picks = [...run(all, 3, wrr), ...run(withoutC, 6, wrr), ...run(all, 7, wrr)]
    // a a b | (c paused) a a a a a b | a c …: c comes back with the credit it had kept (3)
    // and is picked second, rather than starting over at 0.
    expect(picks.join('')).toBe('aab' + 'aaaaab' + 'acaaaab')
    // Over a long run with c present again, the ratios are back to 5:1:1.
    const later = run(all, 7000, wrr)
    expect(shares(['a', 'b', 'c'], later).map((s) => Math.round(s * 70))).toEqual([50, 10, 10])
  })

  it('keys state by id, not by position', () => {
    const wrr = new WeightedRoundRobin()
    const cs = weighted({ a: 5, b: 1, c: 1 })
    const reversed = [...cs].reverse()
    // Same candidates in another order each pick: the sequence by id is unchanged except for
    // ties, which go to the first listed — so use a set without ties after the first pick.
    const out: string[] = []
    for (let i = 0; i < 7; i++) {
      const set = i % 2 === 0 ? cs : reversed
      out.push(set[wrr.pick(set, null, noRand)]!.id)
    }
    expect(out.filter((id) => id === 'a')).toHaveLength(5)
    expect(out.filter((id) => id === 'b')).toHaveLength(1)
    expect(out.filter((id) => id === 'c')).toHaveLength(1)
  })

  it('forget() drops a removed candidate so a new one of that id starts at 0', () => {
    const wrr = new WeightedRoundRobin()
    const cs = weighted({ a: 1, b: 1 })
    expect(run(cs, 1, wrr)).toEqual(['a'])
    wrr.forget('a')
    // a restarts at 0 (was −1), b is at +1: b then a.
    expect(run(cs, 2, wrr)).toEqual(['b', 'a'])
  })

  it('returns -1 for no candidates', () => {
    expect(new WeightedRoundRobin().pick([], null, noRand)).toBe(-1)
  })
})
