import type { IncomingHttpHeaders } from 'node:http'
import { Attempt, type AttemptTarget, type RateLimitHold } from '../../attempt.js'
import type { Deployment } from '../../config/runtime.js'
import type { KeyBreaker } from '../../core/breaker/index.js'
import type { Clock } from '../../core/clock.js'
import { parseRateLimitHeaders, type RateLimitSnapshot } from '../../core/headers/rate-limits.js'
import type { Permit } from '../../core/limit/permits.js'
import { classify429, type RateLimitKind } from '../../core/pacer/classify-429.js'
import type { KeyPacer } from '../../core/pacer/key-pacer.js'

/** A concurrency 429 without Retry-After holds the key back this long when none of ours can free a slot. */
const concurrencyRetryDefaultMs = 1_000
const concurrencyRetryCapMs = 30_000

/** What every attempt of one scheduler shares: made once, not per request. */
export interface AttemptPorts {
  readonly clock: Clock
  /** Wall-clock time for what the concurrency limit records. */
  readonly epoch: Clock
  /** Counts a typed upstream 429 (metrics). */
  readonly onRefusal: (pacer: KeyPacer, kind: RateLimitKind) => void
}

export interface ScheduledAttemptOptions {
  readonly deployment: Deployment
  readonly number: number
  /** Tokens charged to the key's pacer at dispatch. */
  readonly tokens: number
  readonly permit: Permit
  /** The attempt took its key's half-open trial. */
  readonly trial: boolean
  /** The scheduler's monotonic ms at dispatch. */
  readonly dispatchedAt: number
  readonly ports: AttemptPorts
}

/**
 * An attempt the scheduler dispatched on a deployment: it owns that key's permit, breaker trial
 * and pacer charge until the attempt loop settles it, and turns what the upstream says
 * (rate-limit headers, a 429's body) into pacing and limit signals as it arrives.
 */
export class ScheduledAttempt extends Attempt {
  readonly pacer: KeyPacer
  readonly breaker: KeyBreaker
  /** Replaced once, before sending, by the permit that also holds a lease across instances (state: redis). */
  permit: Permit
  readonly trial: boolean
  /** state: redis — who holds the key's shared half-open trial for this attempt (its verdict is reported there); null otherwise. */
  sharedTrial: string | null = null
  /** state: redis — the request and token intervals it was charged on the key's shared schedule. */
  sharedPace: readonly [number, number] | null = null
  readonly dispatchedAt: number
  readonly tokens: number
  /** The upstream's rate-limit headers, once its answer began. */
  snapshot: RateLimitSnapshot | null = null
  /** How its 429 was typed, when it got one. */
  refusal: RateLimitKind | null = null
  readonly #ports: AttemptPorts

  constructor(opts: ScheduledAttemptOptions, route: AttemptTarget['route']) {
    const d = opts.deployment
    super({ provider: d.provider, key: d.key, deployment: d, route }, opts.number)
    this.pacer = d.pacer
    this.breaker = d.breaker
    this.permit = opts.permit
    this.trial = opts.trial
    this.dispatchedAt = opts.dispatchedAt
    this.tokens = opts.tokens
    this.#ports = opts.ports
  }

  override get handsBackFailures(): boolean {
    return true
  }

  override responded(_status: number, headers: IncomingHttpHeaders): void {
    const snapshot = parseRateLimitHeaders(headers, Date.now())
    this.snapshot = snapshot
    if (snapshot !== null) this.pacer.observed(this.#ports.clock.now(), snapshot)
  }

  override refused(body: Buffer): RateLimitHold | null {
    const { clock, epoch } = this.#ports
    const pacer = this.pacer
    const limit = (this.deployment as Deployment).limit
    const now = clock.now()
    const level = this.permit.level
    const kind = classify429({
      status: 429,
      body: body.toString('utf8'),
      snapshot: this.snapshot,
      requestTokens: this.tokens,
      inflight: level,
      concurrencyLimit: limit.effective,
      acceptedInflight: limit.acceptedRecently(epoch.now()),
      nearRateTarget: pacer.nearRateTarget(now),
      recentUnknown429s: pacer.recentUnknown429s(now),
    })
    this.refusal = kind
    pacer.refused(now, this.dispatchedAt, kind, this.snapshot)
    limit.refused(epoch.now(), kind, level)
    if (kind === 'concurrent') limit.holdBack(now + Math.min(concurrencyRetryCapMs, this.snapshot?.retryAfterMs ?? concurrencyRetryDefaultMs))
    this.#ports.onRefusal(pacer, kind)
    // An exhausted quota is never retried: the key is out, and the client learns why.
    return kind === 'quota' ? null : { type: kind, retryAfterMs: this.snapshot?.retryAfterMs ?? null }
  }
}
