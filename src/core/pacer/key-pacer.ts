import type { RateLimitSnapshot } from '../headers/rate-limits.js'
import { AdaptiveRate, type PacerState } from './adaptive-rate.js'
import { unknownBurstToConcurrent, unknownBurstWindowMs, type RateLimitKind } from './classify-429.js'

/** A key that answered `insufficient_quota` stays out of service this long, then gets one more try. */
export const quotaOutageMs = 3_600_000

export interface PacerLimits {
  /** Configured requests per minute, or null (learned). */
  readonly rpm: number | null
  /** Configured tokens per minute, or null (learned from headers or token 429s, else unpaced). */
  readonly tpm: number | null
}

/** How one upstream attempt ended, as the pacer needs to know it. */
export interface AttemptOutcome {
  readonly dispatchedAt: number
  /** The upstream's HTTP status; 0 when the exchange failed before one arrived. */
  readonly status: number
  /** Tokens charged at dispatch. */
  readonly tokensCharged: number
  /** Tokens the upstream reported using, when it did. */
  readonly tokensUsed: number | null
}

export type RateLimitCounts = Record<RateLimitKind, number>

/**
 * The pacer of one upstream key (or key × model, when the provider scopes limits per model):
 * a request dimension and a token dimension, each an AdaptiveRate, plus what the scheduler and
 * the 429 typing need to know about the key — requests in flight, 429s by type, and whether
 * the key is out of service.
 */
export class KeyPacer {
  readonly requests: AdaptiveRate
  readonly tokens: AdaptiveRate
  inflight = 0
  readonly refusals: RateLimitCounts = { rpm: 0, tpm: 0, concurrent: 0, quota: 0, overload: 0, unknown: 0 }
  lastRefusalAt = -Infinity
  lastRefusalKind: RateLimitKind | null = null
  /** Out of service (quota exhausted) until this instant. */
  disabledUntil = -Infinity
  #firstAcceptedAt = -Infinity
  /** When the latest UNKNOWN 429s came, newest last (as many as the typing rule needs, less one). */
  readonly #unknownAt: number[] = []

  constructor(
    /** Stable id for metrics and /status: provider/key, or provider/key/model. */
    readonly id: string,
    readonly provider: string,
    readonly key: string,
    /** The upstream model when limits are scoped per model, else null. */
    readonly model: string | null,
    limits: PacerLimits,
  ) {
    this.requests = new AdaptiveRate(limits.rpm)
    this.tokens = new AdaptiveRate(limits.tpm)
  }

  /** A reload changed the configured ceilings; learned state is kept. */
  configure(limits: PacerLimits): void {
    this.requests.ceiling = limits.rpm ?? Infinity
    this.tokens.ceiling = limits.tpm ?? Infinity
  }

  /** Milliseconds until a request costing `tokens` may go (0 = now). */
  wait(now: number, tokens: number, waiting: boolean): number {
    if (now < this.disabledUntil) return this.disabledUntil - now
    return Math.max(this.requests.wait(now, waiting), this.tokens.wait(now, waiting))
  }

  disabled(now: number): boolean {
    return now < this.disabledUntil
  }

  take(now: number, tokens: number): void {
    this.requests.take(now, 1)
    this.tokens.take(now, tokens)
    this.inflight++
  }

  /** The upstream's response headers arrived: let its rate-limit headers set L̂ and pauses. */
  observed(now: number, snapshot: RateLimitSnapshot): void {
    if (snapshot.requests) this.requests.observed(now, snapshot.requests)
    const tokens = snapshot.tokens ?? snapshot.inputTokens
    if (tokens) this.tokens.observed(now, tokens)
  }

  /** A typed 429 (or overload): retreat the dimension it concerns. True when a new episode began. */
  refused(now: number, dispatchedAt: number, kind: RateLimitKind, snapshot: RateLimitSnapshot | null): boolean {
    this.refusals[kind]++
    this.lastRefusalAt = now
    this.lastRefusalKind = kind
    if (kind === 'unknown') {
      this.#unknownAt.push(now)
      if (this.#unknownAt.length >= unknownBurstToConcurrent) this.#unknownAt.shift()
    }
    const retryAfter = snapshot?.retryAfterMs ?? null
    switch (kind) {
      case 'quota':
        this.disabledUntil = now + quotaOutageMs
        return false
      case 'tpm':
        return this.tokens.refused(now, dispatchedAt, retryAfter ?? resetIfSpent(snapshot?.tokens ?? snapshot?.inputTokens ?? null))
      case 'concurrent':
        // Recorded only: the learned concurrency limit that reacts to these is its own issue.
        return false
      case 'rpm':
        return this.requests.refused(now, dispatchedAt, retryAfter ?? resetIfSpent(snapshot?.requests ?? null))
      default:
        // Untyped refusals and overloads retreat the request rate but teach nothing about the limit.
        return this.requests.refused(now, dispatchedAt, retryAfter ?? resetIfSpent(snapshot?.requests ?? null), false)
    }
  }

  /** The attempt ended (any way but a client abort before dispatch). */
  settled(now: number, outcome: AttemptOutcome): void {
    this.inflight--
    if (outcome.tokensUsed !== null) this.tokens.adjust(now, outcome.tokensUsed - outcome.tokensCharged)
    // A 529 is an overload refusal (the scheduler reports it as 'overload' right after this), not
    // an accepted answer: counted as one it would end its own episode and reset the backoff.
    if (outcome.status === 0 || outcome.status === 429 || outcome.status === 529) return
    if (this.#firstAcceptedAt === -Infinity) this.#firstAcceptedAt = now
    this.requests.accepted(now, outcome.dispatchedAt, 1)
    this.tokens.accepted(now, outcome.dispatchedAt, outcome.tokensUsed ?? outcome.tokensCharged)
    if (now >= this.disabledUntil) this.disabledUntil = -Infinity
  }

  /** UNKNOWN 429s on this key within the last 60 s (for the typing rule in classify429). */
  recentUnknown429s(now: number): number {
    let n = 0
    for (const at of this.#unknownAt) if (now - at < unknownBurstWindowMs) n++
    return n
  }

  /** Whether the key has lately been sending at ≥ 90 % of its pacing target (a 429 then means the rate limit). */
  nearRateTarget(now: number): boolean {
    const target = this.requests.target
    if (target === Infinity || this.#firstAcceptedAt === -Infinity) return false
    // A few answers in the first seconds say nothing about a rate: measure over at least 10 s.
    const span = Math.min(60_000, Math.max(10_000, now - this.#firstAcceptedAt))
    return (this.requests.delivered(now) * 60_000) / span >= 0.9 * target
  }

  state(now: number): PacerState {
    const r = this.requests.state(now)
    const t = this.tokens.state(now)
    return severity[r] >= severity[t] ? r : t
  }
}

const severity: Record<PacerState, number> = { steady: 0, recovering: 1, retreating: 2, paused: 3 }

function resetIfSpent(w: { remaining: number | null; resetInMs: number | null } | null): number | null {
  return w !== null && w.remaining === 0 ? w.resetInMs : null
}
