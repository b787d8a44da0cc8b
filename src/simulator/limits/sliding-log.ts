import type { Clock } from '../types.js'
import { MINUTE_MS, type LimiterOptions, type LimiterState, type RateLimiter } from './types.js'

/** Below this many expired entries the log is not compacted: shifting arrays per request would cost more. */
const COMPACT_AFTER = 1024

/**
 * Remembers every take of the last window (a 60 s log by default): exact, no boundary bursts.
 * The log is an array read from a moving head so expiring entries is O(1) each.
 */
export class SlidingLog implements RateLimiter {
  readonly #clock: Clock
  readonly #windowMs: number
  #times: number[] = []
  #costs: number[] = []
  #head = 0
  #sum = 0

  constructor(readonly limit: number, opts: LimiterOptions) {
    this.#clock = opts.clock
    this.#windowMs = opts.windowMs ?? MINUTE_MS
  }

  waitMs(cost: number): number {
    const now = this.#expire()
    if (this.#sum + cost <= this.limit) return 0
    if (cost > this.limit) return this.#windowMs
    // Walk from the oldest entry until enough units would have expired.
    let freed = 0
    for (let i = this.#head; i < this.#times.length; i++) {
      freed += this.#costs[i] ?? 0
      if (this.#sum - freed + cost <= this.limit) return (this.#times[i] ?? now) + this.#windowMs - now
    }
    return this.#windowMs
  }

  take(cost: number): void {
    const now = this.#expire()
    if (cost <= 0) return
    this.#times.push(now)
    this.#costs.push(cost)
    this.#sum += cost
  }

  state(): LimiterState {
    const now = this.#expire()
    const newest = this.#times[this.#times.length - 1]
    return {
      limit: this.limit,
      remaining: Math.max(0, this.limit - this.#sum),
      resetMs: this.#head < this.#times.length && newest !== undefined ? newest + this.#windowMs - now : 0,
    }
  }

  #expire(): number {
    const now = this.#clock.now()
    const cutoff = now - this.#windowMs
    while (this.#head < this.#times.length && (this.#times[this.#head] ?? now) <= cutoff) {
      this.#sum -= this.#costs[this.#head] ?? 0
      this.#head++
    }
    if (this.#head > COMPACT_AFTER && this.#head * 2 > this.#times.length) {
      this.#times = this.#times.slice(this.#head)
      this.#costs = this.#costs.slice(this.#head)
      this.#head = 0
    }
    return now
  }
}
