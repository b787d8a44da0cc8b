import type { Clock } from '../types.js'
import { MINUTE_MS, type LimiterOptions, type LimiterState, type RateLimiter } from './types.js'

/**
 * Starts full with `limit` units and refills continuously at `limit` per window.
 * Units are kept scaled by the window length so every quantity is an integer: float refill
 * arithmetic would let a request waiting exactly `waitMs` be refused by a rounding error.
 */
export class TokenBucket implements RateLimiter {
  readonly #clock: Clock
  readonly #windowMs: number
  readonly #capacity: number
  #scaledUnits: number
  #updatedAt: number

  constructor(readonly limit: number, opts: LimiterOptions) {
    this.#clock = opts.clock
    this.#windowMs = opts.windowMs ?? MINUTE_MS
    this.#capacity = limit * this.#windowMs
    this.#scaledUnits = this.#capacity
    this.#updatedAt = this.#clock.now()
  }

  waitMs(cost: number): number {
    this.#refill()
    const needed = cost * this.#windowMs
    if (needed <= this.#scaledUnits) return 0
    // A cost above the whole budget can never pass; say "a full window", as providers do for oversized requests.
    if (needed > this.#capacity) return this.#windowMs
    return Math.ceil((needed - this.#scaledUnits) / this.limit)
  }

  take(cost: number): void {
    this.#refill()
    this.#scaledUnits -= cost * this.#windowMs
  }

  state(): LimiterState {
    this.#refill()
    return {
      limit: this.limit,
      remaining: Math.max(0, Math.floor(this.#scaledUnits / this.#windowMs)),
      resetMs: Math.ceil((this.#capacity - this.#scaledUnits) / this.limit),
    }
  }

  #refill(): void {
    const now = this.#clock.now()
    if (now <= this.#updatedAt) return
    this.#scaledUnits = Math.min(this.#capacity, this.#scaledUnits + (now - this.#updatedAt) * this.limit)
    this.#updatedAt = now
  }
}
