import { utilisation, type Candidate } from './candidate.js'
import { uniformIndex, weightedIndex } from './sample.js'
import type { Strategy } from './strategy.js'

/**
 * Power of two random choices (Mitzenmacher; Envoy's least-request): draw two distinct
 * candidates with probability ∝ weight and keep the better one — the earlier pacer slot, then
 * the lower utilisation. Two random looks avoid the herd a full scan causes when every
 * instance reads the same stale minimum, and the earliest-slot comparison splits load in
 * proportion to each key's rate without a global scan (research/algorithms.md §4.3).
 * On a full tie the first draw wins, which is itself random.
 */
export class PowerOfTwoChoices implements Strategy {
  readonly name = 'p2c'

  pick(candidates: readonly Candidate[], _key: string | null, rand: () => number): number {
    const n = candidates.length
    if (n <= 1) return n - 1
    let i = weightedIndex(candidates, rand(), -1)
    let j: number
    if (i < 0) {
      // No positive weight anywhere: every candidate counts the same.
      i = uniformIndex(n, rand(), -1)
      j = uniformIndex(n, rand(), i)
    } else {
      j = weightedIndex(candidates, rand(), i)
      // Only zero-weight candidates are left besides i; they are for when nothing else is.
      if (j < 0) return i
    }
    return better(candidates[j] as Candidate, candidates[i] as Candidate) ? j : i
  }
}

/** Whether a should be preferred over b. */
function better(a: Candidate, b: Candidate): boolean {
  if (a.waitMs !== b.waitMs) return a.waitMs < b.waitMs
  return utilisation(a) < utilisation(b)
}
