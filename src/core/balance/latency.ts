import type { Candidate } from './candidate.js'
import type { Strategy } from './strategy.js'

/**
 * Lowest peak-EWMA time to first token × (in-flight + 1): the expected wait behind what the
 * key already carries, Finagle's and tower's cost. TTFT rather than total latency, because
 * total latency grows with the answer's length and says nothing about the key.
 *
 * A key with no estimate yet costs as the best known one — not 0, which would send it
 * everything until its first answer (LiteLLM's cold-start bias), and not a default of 1 s,
 * which could leave it untried forever when the known keys are faster. On an exact tie the
 * unknown key wins, so a new key gets its first sample as soon as it is no more loaded than
 * the best; other ties go round a rotating start.
 */
export class LowestLatency implements Strategy {
  readonly name = 'latency'
  #start = 0

  pick(candidates: readonly Candidate[], _key: string | null, _rand: () => number): number {
    const n = candidates.length
    if (n === 0) return -1
    let bestKnown = Infinity
    for (const c of candidates) if (c.ttftMs !== null && c.ttftMs < bestKnown) bestKnown = c.ttftMs
    // Nobody measured yet: in-flight alone decides.
    if (bestKnown === Infinity) bestKnown = 1
    const start = this.#start % n
    this.#start = start + 1
    let best = -1
    let bestCost = Infinity
    let bestUnknown = false
    for (let k = 0; k < n; k++) {
      const i = (start + k) % n
      const c = candidates[i] as Candidate
      const unknown = c.ttftMs === null
      const cost = (unknown ? bestKnown : (c.ttftMs as number)) * (c.inflight + 1)
      if (best < 0 || cost < bestCost || (cost === bestCost && unknown && !bestUnknown)) {
        best = i
        bestCost = cost
        bestUnknown = unknown
      }
    }
    return best
  }
}
