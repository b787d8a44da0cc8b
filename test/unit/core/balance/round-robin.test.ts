import { describe, expect, it } from 'vitest'
import { RoundRobin } from '../../../../src/core/balance/index.js'
import { cand, noRand } from './helpers.js'

function sequence(ids: readonly string[][], rr = new RoundRobin()): string {
  return ids.map((set) => {
    const cs = set.map((id) => cand(id))
    return cs[rr.pick(cs, null, noRand)]?.id ?? '-'
  }).join('')
}

describe('round-robin', () => {
  const cases: { name: string, sets: string[][], picks: string }[] = [
    { name: 'three candidates', sets: Array.from({ length: 7 }, () => ['a', 'b', 'c']), picks: 'abcabca' },
    { name: 'one candidate', sets: [['a'], ['a'], ['a']], picks: 'aaa' },
    { name: 'empty set', sets: [[]], picks: '-' },
    // The set shrinks after two picks: the cursor (at 2) wraps into the smaller set and rotates on.
    { name: 'set shrinks', sets: [['a', 'b', 'c'], ['a', 'b', 'c'], ['a', 'b'], ['a', 'b'], ['a', 'b']], picks: 'ababa' },
  ]
  for (const c of cases) it(`${c.name} → ${c.picks}`, () => expect(sequence(c.sets)).toBe(c.picks))

  it('gives each of n candidates exactly 1/n of n × k picks', () => {
    const rr = new RoundRobin()
    const cs = ['a', 'b', 'c', 'd'].map((id) => cand(id))
    const counts = [0, 0, 0, 0]
    for (let i = 0; i < 4000; i++) counts[rr.pick(cs, null, noRand)]!++
    expect(counts).toEqual([1000, 1000, 1000, 1000])
  })
})
