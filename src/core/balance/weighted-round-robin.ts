import { weightOf, type Candidate } from './candidate.js'
import type { Strategy } from './strategy.js'

/**
 * Smooth weighted round-robin, nginx's algorithm (ngx_http_upstream_get_peer): every pick,
 * each eligible candidate's `current` grows by its weight, the largest wins and gives back the
 * total. Weights 5, 1, 1 give a a b a c a a rather than a a a a a b c, so a heavy key never
 * takes a burst of consecutive requests, which is what trips per-second sub-windows.
 *
 * `current` is kept per candidate id, so when the eligible set changes (a key paused, a key
 * added by a reload) the others keep their place in the cycle; a candidate that is absent is
 * left untouched, as nginx leaves a down peer. A candidate never seen starts at 0.
 */
export class WeightedRoundRobin implements Strategy {
  readonly name = 'weighted'
  readonly #current = new Map<string, { value: number }>()

  pick(candidates: readonly Candidate[], _key: string | null, _rand: () => number): number {
    const n = candidates.length
    if (n <= 1) return n - 1
    let total = 0
    for (const c of candidates) total += weightOf(c)
    // All weights zero: equal shares rather than nothing, since every candidate is eligible.
    const equal = total <= 0
    if (equal) total = n
    let best = -1
    let bestSlot: { value: number } | null = null
    for (let i = 0; i < n; i++) {
      const c = candidates[i] as Candidate
      const w = equal ? 1 : weightOf(c)
      // A zero-weight candidate neither accumulates nor competes.
      if (w <= 0) continue
      let slot = this.#current.get(c.id)
      if (slot === undefined) this.#current.set(c.id, (slot = { value: 0 }))
      slot.value += w
      // Strictly greater: the first of equals wins, as in nginx, which fixes the sequence.
      if (bestSlot === null || slot.value > bestSlot.value) {
        best = i
        bestSlot = slot
      }
    }
    if (bestSlot !== null) bestSlot.value -= total
    return best
  }

  /** Drops the state of a candidate that no longer exists (a key removed by a reload). */
  forget(id: string): void {
    this.#current.delete(id)
  }
}
