import { describe, expect, it } from 'vitest'
import { PowerOfTwoChoices } from '../../../../src/core/balance/index.js'
import { cand, prng, shares, weighted } from './helpers.js'

/** A rand() that returns the given numbers in turn. */
function seq(...xs: number[]): () => number {
  let i = 0
  return () => {
    const x = xs[i++]
    if (x === undefined) throw new Error('rand() called more often than expected')
    return x
  }
}

describe('p2c', () => {
  it('prefers the candidate whose pacer can go now, even when it is busier', () => {
    const cs = [cand('later', { waitMs: 250 }), cand('now', { waitMs: 0, inflight: 9 })]
    const s = new PowerOfTwoChoices()
    for (const r of [0, 0.5, 0.99]) expect(s.pick(cs, null, () => r)).toBe(1)
  })

  it('prefers the earlier pacer slot among later ones', () => {
    const cs = [cand('a', { waitMs: 900 }), cand('b', { waitMs: 40 })]
    expect(new PowerOfTwoChoices().pick(cs, null, () => 0.3)).toBe(1)
  })

  it('compares utilisation when the pacers tie', () => {
    // 3/10 loses to 4/20.
    const cs = [cand('a', { inflight: 3, limit: 10 }), cand('b', { inflight: 4, limit: 20 })]
    expect(new PowerOfTwoChoices().pick(cs, null, () => 0.1)).toBe(1)
  })

  it('compares only the two it drew', () => {
    // Draws a (r = 0.1 → index 0) then b (0.1 of what is left → index 1); c, the idlest, is not looked at.
    const cs = [cand('a', { inflight: 5 }), cand('b', { inflight: 2 }), cand('c')]
    expect(new PowerOfTwoChoices().pick(cs, null, seq(0.1, 0.1))).toBe(1)
    // Draws c then a: c wins.
    expect(new PowerOfTwoChoices().pick(cs, null, seq(0.9, 0.1))).toBe(2)
  })

  it('keeps the first draw on a full tie', () => {
    const cs = [cand('a'), cand('b'), cand('c')]
    expect(new PowerOfTwoChoices().pick(cs, null, seq(0.7, 0.2))).toBe(2)
  })

  it('draws in proportion to weight when all are equally loaded', () => {
    // All idle, so the first draw always wins: the picks follow the weights.
    const cs = weighted({ a: 3, b: 1 })
    const rand = prng(7)
    const s = new PowerOfTwoChoices()
    const got = shares(['a', 'b'], Array.from({ length: 10_000 }, () => cs[s.pick(cs, null, rand)]!.id))
    expect(Math.abs(got[0]! - 0.75)).toBeLessThanOrEqual(0.02)
  })

  it('never picks a zero-weight candidate while one with weight is eligible', () => {
    const cs = [cand('a', { weight: 1, inflight: 9 }), cand('z', { weight: 0 })]
    const rand = prng(3)
    const s = new PowerOfTwoChoices()
    for (let i = 0; i < 100; i++) expect(s.pick(cs, null, rand)).toBe(0)
  })

  it('balances in-flight when each pick adds one and finished requests leave at random', () => {
    const cs = ['a', 'b', 'c', 'd', 'e'].map((id) => cand(id, { limit: 100 }))
    const rand = prng(11)
    const s = new PowerOfTwoChoices()
    for (let i = 0; i < 5000; i++) {
      cs[s.pick(cs, null, rand)]!.inflight++
      const done = cs[Math.floor(rand() * cs.length)]!
      if (done.inflight > 0 && rand() < 0.9) done.inflight--
    }
    const loads = cs.map((c) => c.inflight)
    expect(Math.max(...loads) - Math.min(...loads)).toBeLessThanOrEqual(3)
  })
})
