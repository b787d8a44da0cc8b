import type { Candidate } from './candidate.js'
import type { Strategy } from './strategy.js'

/**
 * Each candidate in turn. The cursor is an index, not an id: the eligible set changes from
 * request to request (a key whose pacer is busy drops out for a moment), and a plain rotating
 * index still spreads evenly over whatever is eligible, which is all round-robin promises.
 */
export class RoundRobin implements Strategy {
  readonly name = 'round-robin'
  #next = 0

  pick(candidates: readonly Candidate[], _key: string | null, _rand: () => number): number {
    const n = candidates.length
    if (n === 0) return -1
    // Kept below n so the counter never grows without bound.
    const i = this.#next % n
    this.#next = i + 1
    return i
  }
}
