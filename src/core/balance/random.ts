import type { Candidate } from './candidate.js'
import { uniformIndex, weightedIndex } from './sample.js'
import type { Strategy } from './strategy.js'

/**
 * A candidate drawn with probability ∝ weight (LiteLLM's default "simple-shuffle"). No state,
 * so it behaves the same on every instance; uniform when no weight is positive.
 */
export class WeightedRandom implements Strategy {
  readonly name = 'random'

  pick(candidates: readonly Candidate[], _key: string | null, rand: () => number): number {
    const n = candidates.length
    if (n <= 1) return n - 1
    const r = rand()
    const i = weightedIndex(candidates, r, -1)
    return i >= 0 ? i : uniformIndex(n, r, -1)
  }
}
