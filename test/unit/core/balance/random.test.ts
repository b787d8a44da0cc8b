import { describe, expect, it } from 'vitest'
import { WeightedRandom } from '../../../../src/core/balance/index.js'
import { prng, shares, weighted } from './helpers.js'

describe('weighted random', () => {
  const cases: Record<string, number>[] = [
    { a: 1, b: 1, c: 1 },
    { a: 5, b: 1, c: 1 },
    { a: 90, b: 10 },
    { a: 3, b: 0, c: 1 },
  ]
  for (const weights of cases) {
    it(`${JSON.stringify(weights)} is within 2 points of the weights over 10,000 picks`, () => {
      const ids = Object.keys(weights)
      const total = Object.values(weights).reduce((a, b) => a + b, 0)
      const cs = weighted(weights)
      const rand = prng(42)
      const s = new WeightedRandom()
      const got = shares(ids, Array.from({ length: 10_000 }, () => cs[s.pick(cs, null, rand)]!.id))
      ids.forEach((id, i) => expect(Math.abs(got[i]! - weights[id]! / total), id).toBeLessThanOrEqual(0.02))
    })
  }

  it('maps rand() onto cumulative weights exactly', () => {
    const cs = weighted({ a: 1, b: 2, c: 1 })
    const s = new WeightedRandom()
    const at = (r: number): string => cs[s.pick(cs, null, () => r)]!.id
    expect([0, 0.24, 0.25, 0.74, 0.75, 0.999_999_999].map(at)).toEqual(['a', 'a', 'b', 'b', 'c', 'c'])
  })

  it('never picks a zero-weight candidate while another has weight', () => {
    const cs = weighted({ a: 0, b: 1, c: 0 })
    const s = new WeightedRandom()
    for (const r of [0, 0.3, 0.6, 0.999]) expect(s.pick(cs, null, () => r)).toBe(1)
  })

  it('is uniform when every weight is zero', () => {
    const cs = weighted({ a: 0, b: 0, c: 0, d: 0 })
    const s = new WeightedRandom()
    expect([0, 0.26, 0.51, 0.99].map((r) => s.pick(cs, null, () => r))).toEqual([0, 1, 2, 3])
  })
})
