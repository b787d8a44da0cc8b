import type { RateLimitKind } from '../pacer/classify-429.js'
import type { EpochMs, LearnedState } from './learned-state.js'

/** A success at a level older than this says nothing about what the upstream takes now. */
const acceptedWindowMs = 60_000

/**
 * What a key's 429s and successes have shown, apart from the limit itself: the typed 429
 * counters and the last one (shown to admins, persisted with the limit), and the highest level
 * the upstream took at once lately (evidence for typing a 429 that came without headers).
 */
export class RefusalRecord {
  concurrent429Count = 0
  rpm429Count = 0
  tpm429Count = 0
  last429At: EpochMs | null = null
  last429Type: string | null = null
  #okLevel = 0
  #okAt = -Infinity

  restore(learned: LearnedState): void {
    this.concurrent429Count = learned.concurrent429Count
    this.rpm429Count = learned.rpm429Count
    this.tpm429Count = learned.tpm429Count
    this.last429At = learned.last429At
    this.last429Type = learned.last429Type
  }

  reset(): void {
    this.concurrent429Count = this.rpm429Count = this.tpm429Count = 0
    this.last429At = this.last429Type = null
  }

  /** A typed 429 at `now`. */
  refused(now: EpochMs, kind: RateLimitKind): void {
    if (kind === 'concurrent') this.concurrent429Count++
    else if (kind === 'rpm') this.rpm429Count++
    else if (kind === 'tpm') this.tpm429Count++
    this.last429At = now
    this.last429Type = kind
  }

  /** A request sent while `level` were in flight (itself included) succeeded. */
  accepted(now: EpochMs, level: number): void {
    if (now - this.#okAt > acceptedWindowMs) this.#okLevel = 0
    if (level > this.#okLevel) this.#okLevel = level
    this.#okAt = now
  }

  /**
   * The highest level the upstream took at once within the last minute (0 = none): with no
   * headers to go by, a 429 at or below it is a rate limit, not a concurrency limit.
   */
  acceptedRecently(now: EpochMs): number {
    return now - this.#okAt > acceptedWindowMs ? 0 : this.#okLevel
  }
}
