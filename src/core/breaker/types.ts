// The breaker's vocabulary (DESIGN.md §6 "Failover", research/algorithms.md §5.3).

export type BreakerState = 'closed' | 'open' | 'half-open' | 'disabled'

/** Why an attempt failed, as the gateway classifies it. 429s, client 4xx and client aborts are never failures. */
export type HealthFailure = 'http_5xx' | 'reset' | 'connect' | 'timeout' | 'invalid' | 'auth' | 'probe'

/** 'auth': the upstream answered 401/403, probes (or, without probes, time) bring it back. 'admin': only an admin does. */
export type DisableReason = 'auth' | 'admin'

export interface BreakerSettings {
  /** Consecutive failures that open it. */
  readonly failureThreshold: number
  /** Also opens when failures / outcomes in the window reach this share … */
  readonly failureRate: number
  /** … and the window holds at least this many outcomes. */
  readonly minRequests: number
  readonly windowMs: number
  /** The first open period; doubles per consecutive opening. */
  readonly openMs: number
  /** Cap on the open period before jitter; also how long an auth-disabled key without probes stays out. */
  readonly maxOpenMs: number
  /** Consecutive successes (half-open trials and/or probe passes) that close it. */
  readonly successThreshold: number
  /** The open period is multiplied by a uniform factor in [1 - jitter, 1 + jitter). */
  readonly jitter: number
  /** Whether active probes run for this key. */
  readonly probes: boolean
}

/**
 * `probes` is off by default: with no prober running, a key disabled by a 401 still comes back
 * (after maxOpenMs, through a half-open trial) instead of waiting forever for a probe that
 * never comes. The config compiler turns it on where a provider has a health check.
 */
export const defaultBreakerSettings: BreakerSettings = Object.freeze({
  failureThreshold: 3,
  failureRate: 0.5,
  minRequests: 5,
  windowMs: 60_000,
  openMs: 30_000,
  maxOpenMs: 300_000,
  successThreshold: 2,
  jitter: 0.1,
  probes: false,
})
