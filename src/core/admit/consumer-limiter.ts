import { ConsumerRate, type RateDecision } from './consumer-rate.js'
import { formatResetDuration } from './reset-duration.js'

/** A consumer's per-minute limits; null = unlimited in that dimension. */
export interface RateLimits {
  readonly rpm: number | null
  readonly tpm: number | null
}

export type LimitDimension = 'requests' | 'tokens'

/** What admit decided. One object per limiter, rewritten by every admit (as `RateDecision`). */
export interface AdmitDecision {
  ok: boolean
  /** The dimension that refused; when both did, the one that frees up last. null when ok. */
  refusedBy: LimitDimension | null
  /** The estimate alone exceeds the TPM: no wait helps, answer 429 with that said. */
  tooLarge: boolean
  /** ok: 0. Refused: ms until both dimensions fit. null when tooLarge. */
  retryAfterMs: number | null
}

/** OpenAI's header names, as clients and SDKs read them. */
export const rateLimitHeaderNames = {
  requests: ['x-ratelimit-limit-requests', 'x-ratelimit-remaining-requests', 'x-ratelimit-reset-requests'],
  tokens: ['x-ratelimit-limit-tokens', 'x-ratelimit-remaining-tokens', 'x-ratelimit-reset-tokens'],
} as const

/**
 * One consumer's RPM and TPM. A request is admitted only when both fit, and then both are
 * taken; a refusal takes nothing, so a request refused for tokens does not use up a request
 * slot (the client's retry would otherwise be refused for requests it never got to send).
 * Tokens are charged from an estimate at admission and settled from usage afterwards.
 */
export class ConsumerLimiter {
  #requests: ConsumerRate | null
  #tokens: ConsumerRate | null
  readonly decision: AdmitDecision = { ok: true, refusedBy: null, tooLarge: false, retryAfterMs: 0 }
  readonly #headers: string[] = []

  constructor(limits: RateLimits) {
    this.#requests = limits.rpm === null ? null : new ConsumerRate(limits.rpm)
    this.#tokens = limits.tpm === null ? null : new ConsumerRate(limits.tpm)
  }

  get requests(): ConsumerRate | null {
    return this.#requests
  }

  get tokens(): ConsumerRate | null {
    return this.#tokens
  }

  /** One request with `estimatedTokens` (input estimate + max_tokens or the output reserve). */
  admit(now: number, estimatedTokens: number): AdmitDecision {
    const d = this.decision
    const r = this.#requests?.check(now, 1) ?? null
    const t = this.#tokens?.check(now, estimatedTokens) ?? null
    if ((r === null || r.ok) && (t === null || t.ok)) {
      this.#requests?.tryTake(now, 1)
      this.#tokens?.tryTake(now, estimatedTokens)
      d.ok = true
      d.refusedBy = null
      d.tooLarge = false
      d.retryAfterMs = 0
      return d
    }
    d.ok = false
    if (t !== null && t.tooLarge) {
      d.refusedBy = 'tokens'
      d.tooLarge = true
      d.retryAfterMs = null
      return d
    }
    d.tooLarge = false
    const rWait = waitOf(r)
    const tWait = waitOf(t)
    d.refusedBy = tWait > rWait ? 'tokens' : 'requests'
    d.retryAfterMs = Math.max(rWait, tWait)
    return d
  }

  /**
   * Once usage is known: `charged` is what admit took, `used` what the request really cost.
   * A request that never reached the upstream (refused later, client gone) settles with used 0.
   */
  settle(now: number, charged: number, used: number): void {
    if (used !== charged) this.#tokens?.adjust(now, used - charged)
  }

  /**
   * The consumer's standing as OpenAI's headers, flat: [name, value, name, value, …], the form
   * node's writeHead and undici take. Requests trio when an RPM applies, tokens trio when a TPM
   * does; empty when neither. The same array every call: use it before the next one.
   */
  headers(now: number): readonly string[] {
    const out = this.#headers
    out.length = 0
    if (this.#requests !== null) push(out, rateLimitHeaderNames.requests, this.#requests, now)
    if (this.#tokens !== null) push(out, rateLimitHeaderNames.tokens, this.#tokens, now)
    return out
  }

  /** New limits; what each dimension has used carries over (a dimension turned on starts full). */
  reconfigure(now: number, limits: RateLimits): void {
    this.#requests = reconfigured(this.#requests, limits.rpm, now)
    this.#tokens = reconfigured(this.#tokens, limits.tpm, now)
  }
}

function waitOf(d: RateDecision | null): number {
  return d === null || d.ok ? 0 : (d.retryAfterMs ?? 0)
}

function push(out: string[], names: readonly [string, string, string], rate: ConsumerRate, now: number): void {
  const d = rate.peek(now)
  out.push(names[0], rate.limitText, names[1], String(d.remaining), names[2], formatResetDuration(d.resetMs))
}

function reconfigured(rate: ConsumerRate | null, limit: number | null, now: number): ConsumerRate | null {
  if (limit === null) return null
  if (rate === null) return new ConsumerRate(limit)
  rate.reconfigure(now, limit)
  return rate
}
