import type { KeyPolicy } from '../config/compile.js'
import type { LimiterState, RateLimiter } from '../limits/types.js'

export type RefusalKind = 'rpm' | 'tpm' | 'concurrent'

export interface Admission {
  /** null = admitted (and the units were taken). */
  refused: RefusalKind | null
  retryAfterMs: number
  requests: LimiterState | null
  tokens: LimiterState | null
}

/** Seconds a concurrency 429 asks the caller to wait: no window frees a slot, a request finishing does. */
const CONCURRENCY_RETRY_MS = 1000

/** One configured key's enforcement: its policy plus the stateful limiters built for it. */
export class KeyLimits {
  constructor(
    readonly policy: KeyPolicy,
    readonly requests: RateLimiter | null,
    readonly tokens: RateLimiter | null,
  ) {}

  /**
   * Checks requests, then tokens, then concurrency, and takes units only when all pass, so a refusal
   * costs nothing. Concurrency comes last so its 429 never shows remaining-requests 0: that is how
   * a gateway tells a concurrency 429 from an RPM one.
   */
  admit(tokenCost: number, inFlight: number): Admission {
    const requestWait = this.requests?.waitMs(1) ?? 0
    if (requestWait > 0) return this.#refuse('rpm', requestWait)
    const tokenWait = this.tokens?.waitMs(tokenCost) ?? 0
    if (tokenWait > 0) return this.#refuse('tpm', tokenWait)
    const cap = this.policy.maxConcurrent
    if (cap !== null && inFlight >= cap) return this.#refuse('concurrent', CONCURRENCY_RETRY_MS)
    this.requests?.take(1)
    this.tokens?.take(tokenCost)
    return { refused: null, retryAfterMs: 0, requests: this.requests?.state() ?? null, tokens: this.tokens?.state() ?? null }
  }

  #refuse(kind: RefusalKind, retryAfterMs: number): Admission {
    return { refused: kind, retryAfterMs, requests: this.requests?.state() ?? null, tokens: this.tokens?.state() ?? null }
  }
}
