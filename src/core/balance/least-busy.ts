import { utilisation, type Candidate } from './candidate.js'
import type { Strategy } from './strategy.js'

/**
 * The candidate with the lowest in-flight ÷ limit, so a key allowed 20 at once takes twice the
 * load of one allowed 10 (LiteLLM's least-busy counts in-flight alone, which overloads the
 * small key). Ties are common — every idle key is at 0 — and are broken by a rotating start,
 * so idle keys share the traffic instead of the first one taking all of it.
 */
export class LeastBusy implements Strategy {
  readonly name = 'least-busy'
  #start = 0

  pick(candidates: readonly Candidate[], _key: string | null, _rand: () => number): number {
    const n = candidates.length
    if (n === 0) return -1
    const start = this.#start % n
    this.#start = start + 1
    let best = start
    let bestLoad = utilisation(candidates[start] as Candidate)
    for (let k = 1; k < n; k++) {
      const i = (start + k) % n
      const load = utilisation(candidates[i] as Candidate)
      if (load < bestLoad) {
        best = i
        bestLoad = load
      }
    }
    return best
  }
}
