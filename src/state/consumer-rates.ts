// A consumer's RPM and TPM counted across every instance, with the integer GCRA of
// src/core/admit/consumer-rate.ts (burst = the whole limit, state kept as backlog × window so
// every boundary is exact) run in one script, so both dimensions are checked and taken together
// and the x-ratelimit-* headers count every instance's requests.

import type { LimitDimension, RateLimits } from '../core/admit/consumer-limiter.js'

/** One dimension's standing after the call, as the x-ratelimit-* headers give it. */
export interface RateStanding {
  readonly limit: number
  readonly remaining: number
  /** ms until the bucket is full again. */
  readonly resetMs: number
}

export interface SharedAdmitDecision {
  readonly ok: boolean
  readonly refusedBy: LimitDimension | null
  readonly tooLarge: boolean
  /** ok: 0. Refused: ms until both fit. null when no wait helps (tooLarge). */
  readonly retryAfterMs: number | null
  /** null when that dimension has no limit. */
  readonly requests: RateStanding | null
  readonly tokens: RateStanding | null
}

export interface ConsumerRates {
  /** One request estimated at `estimatedTokens`: taken from both limits when both fit, else nothing is taken. */
  admit(consumerId: string, limits: RateLimits, estimatedTokens: number): Promise<SharedAdmitDecision>
  /** Settles the tokens once usage is known: `used − charged` (negative gives back, never below empty). */
  settle(consumerId: string, tpm: number, charged: number, used: number): Promise<RateStanding>
}
