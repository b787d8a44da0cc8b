import { describe, expect, it } from 'vitest'
import { LeastBusy } from '../../../../src/core/balance/index.js'
import { cand, noRand } from './helpers.js'

describe('least-busy', () => {
  const cases: { name: string, load: [number, number][], want: number }[] = [
    { name: 'fewest in flight with equal limits', load: [[3, 10], [1, 10], [2, 10]], want: 1 },
    // 4/20 = 0.2 beats 3/10 = 0.3: the ratio, not the count.
    { name: 'ratio, not count', load: [[3, 10], [4, 20]], want: 1 },
    { name: 'unbounded limit looks idle', load: [[1, 4], [50, Infinity]], want: 1 },
    { name: 'zero limit looks full', load: [[0, 0], [7, 8]], want: 1 },
  ]
  for (const c of cases) {
    it(c.name, () => {
      const cs = c.load.map(([inflight, limit], i) => cand(`k${i}`, { inflight, limit }))
      expect(new LeastBusy().pick(cs, null, noRand)).toBe(c.want)
    })
  }

  it('breaks ties round-robin, so idle keys share the traffic', () => {
    const cs = ['a', 'b', 'c'].map((id) => cand(id))
    const s = new LeastBusy()
    expect(Array.from({ length: 6 }, () => cs[s.pick(cs, null, noRand)]!.id).join('')).toBe('abcabc')
  })

  it('breaks ties only among the least busy', () => {
    const cs = [cand('a', { inflight: 1 }), cand('b'), cand('c'), cand('d', { inflight: 1 })]
    const s = new LeastBusy()
    expect(Array.from({ length: 4 }, () => cs[s.pick(cs, null, noRand)]!.id).join('')).toBe('bbcb')
  })

  it('spreads load in proportion to limits when each pick adds to in-flight', () => {
    const cs = [cand('a', { limit: 30 }), cand('b', { limit: 10 })]
    const s = new LeastBusy()
    for (let i = 0; i < 20; i++) cs[s.pick(cs, null, noRand)]!.inflight++
    expect(cs.map((c) => c.inflight)).toEqual([15, 5])
  })
})
