// The breaker's vocabulary (DESIGN.md §6 "Failover", research/algorithms.md §5.3).

export type BreakerState = 'closed' | 'open' | 'half-open' | 'disabled'

/**
 * Why an attempt failed, as the gateway classifies it. 429s, client 4xx and client aborts are never
 * failures. 'connect': refused, unreachable or unresolvable (a connect timeout is a 'timeout').
 */
export type HealthFailure = 'http_5xx' | 'reset' | 'connect' | 'timeout' | 'invalid' | 'auth' | 'probe'

/** 'auth': the upstream answered 401/403, probes (or, without probes, time) bring it back. 'admin': only an admin does. */
export type DisableReason = 'auth' | 'admin'

export interface BreakerSettings {
  /**
   * Consecutive failures that take it out when its window holds little traffic. With more
   * volume the run must also be longer than one a key failing at just under failureRate would
   * show by chance among the window's outcomes (see consecutiveThreshold).
   */
  readonly failureThreshold: number
  /** Takes it out when failures / outcomes in the window reach this share … */
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
  /**
   * The most of a model's keys that soft failures (5xx, resets, timeouts) may take out at once,
   * in percent (Envoy's max_ejection_percent); at least one key when above 0, never the last.
   */
  readonly maxEjectionPercent: number
}

/**
 * Failures that take a key out at once, whatever the counts and the ejection cap: nothing
 * listens at its address. (A 401/403 is hard evidence too; it goes through disable('auth').)
 */
export const hardFailures: ReadonlySet<HealthFailure> = new Set<HealthFailure>(['connect'])

/**
 * `probes` is off by default: with no prober running, a key disabled by a 401 still comes back
 * (after maxOpenMs, through a half-open trial) instead of waiting forever for a probe that
 * never comes. The config compiler turns it on where a provider has a health check.
 *
 * The counting defaults follow Envoy's outlier detection, tuned so that noise stays in and a
 * key that really fails goes out within seconds (docs/pipeline.md, "Key health"): a 5 %
 * random 5xx rate needs 5 failures in a row (p = 3·10⁻⁷ per answer) or 30 % of ≥ 20 answers
 * (p < 10⁻³ per window), while a key failing half its requests crosses 30 % within about 3 s
 * of traffic in a 5 s window.
 */
export const defaultBreakerSettings: BreakerSettings = Object.freeze({
  failureThreshold: 5,
  failureRate: 0.3,
  minRequests: 20,
  windowMs: 5_000,
  openMs: 30_000,
  maxOpenMs: 300_000,
  successThreshold: 2,
  jitter: 0.1,
  probes: false,
  maxEjectionPercent: 50,
})
