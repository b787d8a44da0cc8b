import type { Clock } from '../types.js'
import { MINUTE_MS, type LimiterOptions, type LimiterState, type RateLimiter } from './types.js'

/**
 * Counts units in windows aligned to multiples of the window length on the clock (wall-clock
 * minutes by default), so a burst straddling a boundary can pass twice the limit, as real
 * fixed-window limiters allow.
 */
export class FixedWindow implements RateLimiter {
  readonly #clock: Clock
  readonly #windowMs: number
  #windowStart = Number.NEGATIVE_INFINITY
  #used = 0

  constructor(readonly limit: number, opts: LimiterOptions) {
    this.#clock = opts.clock
    this.#windowMs = opts.windowMs ?? MINUTE_MS
  }

  waitMs(cost: number): number {
    const now = this.#roll()
    if (this.#used + cost <= this.limit) return 0
    return this.#windowStart + this.#windowMs - now
  }

  take(cost: number): void {
    this.#roll()
    this.#used += cost
  }

  state(): LimiterState {
    const now = this.#roll()
    return {
      limit: this.limit,
      remaining: Math.max(0, this.limit - this.#used),
      resetMs: this.#used === 0 ? 0 : this.#windowStart + this.#windowMs - now,
    }
  }

  #roll(): number {
    const now = this.#clock.now()
    if (now >= this.#windowStart + this.#windowMs) {
      this.#windowStart = now - (now % this.#windowMs)
      this.#used = 0
    }
    return now
  }
}
