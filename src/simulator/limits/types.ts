import type { Clock } from '../types.js'

/** What a limiter says about itself, for rate-limit headers. */
export interface LimiterState {
  limit: number
  remaining: number
  /** Milliseconds until the limiter is back to its initial (full) state, as OpenAI's x-ratelimit-reset-* means it. */
  resetMs: number
}

/**
 * A per-minute budget of units (requests or tokens). Checking and taking are separate so a request
 * refused by one dimension (say tokens) consumes nothing from the other (requests).
 */
export interface RateLimiter {
  readonly limit: number
  /** Milliseconds until `cost` units could be taken; 0 means now. */
  waitMs(cost: number): number
  take(cost: number): void
  state(): LimiterState
}

export interface LimiterOptions {
  clock: Clock
  /** Length of the limit's window; providers state limits per minute. */
  windowMs?: number
}

export const MINUTE_MS = 60_000
