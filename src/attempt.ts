import type { IncomingHttpHeaders } from 'node:http'
import type { Deployment, ModelRoute, Provider, ProviderKey } from './config/runtime.js'
import type { Outcome, RequestContext, Usage } from './context.js'
import type { RateLimitKind } from './core/pacer/classify-429.js'
import type { SluiceError } from './errors.js'

/**
 * How one upstream try ended, as the forward stage reports it to the attempt loop in the
 * schedule stage. Only the loop decides what happens next: retry, requeue, fall back or finish.
 */
export type AttemptResult =
  /** The client has its answer (an upstream 2xx, or an upstream error sluice relayed as is). */
  | { readonly kind: 'delivered' }
  /** The upstream said 429 and the scheduler took the request back; the client heard nothing. */
  | { readonly kind: 'held-rate-limit'; readonly hold: RateLimitHold }
  /**
   * Nothing reached the client. `retryable`: another key may try (a 5xx, 401/403, a connection
   * failure, a reset or a malformed answer); otherwise (a timeout) the error is the answer.
   */
  | { readonly kind: 'failed-before-first-byte'; readonly error: SluiceError; readonly retryable: boolean }
  /** The answer had started: the relay ended it with the error (an SSE event, or a cut body). */
  | { readonly kind: 'failed-after-first-byte'; readonly error: SluiceError }
  | { readonly kind: 'client-gone' }

/** What a held 429 said: the limit it hit, and how long the upstream asked to wait (null: it did not say). */
export interface RateLimitHold {
  readonly type: RateLimitKind
  readonly retryAfterMs: number | null
}

export const delivered: AttemptResult = Object.freeze({ kind: 'delivered' })
export const clientGone: AttemptResult = Object.freeze({ kind: 'client-gone' })

/** Where one attempt goes: a managed deployment, or a passthrough provider's key. */
export interface AttemptTarget {
  readonly provider: Provider
  readonly key: ProviderKey
  readonly deployment: Deployment | null
  /** The model whose deployment serves it (a fallback's, when one does); null for passthrough. */
  readonly route: ModelRoute | null
}

/**
 * One upstream try: where it went and what happened, for the attempt loop, the logs and the
 * metrics. The forward stage fills in the timings and what the upstream said; a request that
 * tries three keys has three of these, and nothing of one leaks into the next.
 */
export class Attempt {
  /** performance.now() at dispatch, at the first response byte, and when the exchange ended; 0 = not yet. */
  startedAt = 0
  firstByteAt = 0
  endedAt = 0
  /** The upstream's HTTP status, 0 when none arrived. */
  upstreamStatus = 0
  /** What went wrong upstream (an HTTP status or a transport failure kind), for metrics. */
  failure: string | null = null
  /** What this try amounted to, in the request outcome's words. */
  outcome: Outcome = 'success'
  usage: Usage | null = null
  /** Server-sent events relayed to the client by this try, for the partial usage of a stream the client left. */
  streamEvents = 0
  /** sluice asked the upstream for stream usage the client did not ask for: its chunk is removed. */
  stripUsageChunk = false
  result: AttemptResult | null = null

  constructor(
    readonly target: AttemptTarget,
    /** 1 for the first try of a request. */
    readonly number: number,
  ) {}

  get provider(): Provider {
    return this.target.provider
  }

  get key(): ProviderKey {
    return this.target.key
  }

  get deployment(): Deployment | null {
    return this.target.deployment
  }

  /** The upstream's response headers arrived (any status). */
  responded(_status: number, _headers: IncomingHttpHeaders): void {}

  /**
   * The upstream refused with 429; `body` is its error body. A hold when the scheduler takes the
   * request back (to send it again, or to answer 429 itself): the relay then sends nothing. Null:
   * the relay passes the refusal on.
   */
  refused(_body: Buffer): RateLimitHold | null {
    return null
  }

  /**
   * Whether a failure the client has seen nothing of is handed back to the attempt loop (which
   * may send the request elsewhere) instead of being answered by the relay: managed requests.
   */
  get handsBackFailures(): boolean {
    return false
  }

  /** For the access log: one line per try when there were several. */
  summary(): AttemptSummary {
    return {
      deployment: this.deployment?.id ?? `${this.provider.id}/${this.key.id}`,
      upstreamStatus: this.upstreamStatus || null,
      result: this.result?.kind ?? null,
      ms: this.startedAt > 0 ? Math.round(((this.endedAt || performance.now()) - this.startedAt) * 100) / 100 : null,
    }
  }
}

export interface AttemptSummary {
  readonly deployment: string
  readonly upstreamStatus: number | null
  readonly result: AttemptResult['kind'] | null
  readonly ms: number | null
}

/** The forward stage's side of the attempt loop: one exchange for `attempt`, relayed to the client. */
export type SendAttempt = (ctx: RequestContext, attempt: Attempt) => Promise<AttemptResult>
