import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http'
import type { Deployment, ModelRoute, Provider, ProviderKey, Runtime, SplitGroup } from './config/runtime.js'
import type { EffectiveSettings } from './core/admit/index.js'
import { parsePriority, type Priority } from './core/queue/index.js'
import { estimateTokens, type TokenEstimate } from './core/tokens/estimate.js'
import { SluiceError } from './errors.js'
import type { Endpoint } from './providers/types.js'

/** The caller of a data-plane request, once authenticated (or the one anonymous caller). */
export interface Consumer {
  readonly id: string
  readonly name: string
  /** The visible start of the virtual key it used (`sk-sluice-AbCd`); null when anonymous. */
  readonly keyPrefix: string | null
  readonly tier: string | null
  readonly settings: EffectiveSettings
}

/** How a request ended, for logs and metrics. */
export type Outcome =
  | 'success' // a 2xx answer, fully delivered
  | 'upstream_error' // the upstream answered with an error status, or broke
  | 'timeout' // an upstream timeout
  | 'rejected' // refused by sluice before any upstream call (validation, unknown model, shutdown)
  | 'client_abort' // the client went away first
  | 'internal_error'

/** Token counts as the upstream reported them; null where it did not. */
export interface Usage {
  promptTokens: number | null
  completionTokens: number | null
}

/**
 * The scheduler's view of one upstream attempt, told by the forward stage as the answer arrives.
 * Lets a rate-limit refusal go back to the queue instead of to the client.
 */
export interface UpstreamAttempt {
  /** The upstream's response headers arrived (any status). */
  responded(status: number, headers: IncomingHttpHeaders): void
  /**
   * The upstream refused with 429; `body` is its error body. True when the scheduler takes the
   * request back (to retry it, or to answer 429 itself): the forward stage then sends nothing.
   */
  holdRefusal(body: Buffer): boolean
}

/** Failures that may be retried on another key as long as the client has received nothing. */
export const retryableFailures: ReadonlySet<string> = new Set(['connect', 'connect_timeout', 'reset', 'invalid'])

/**
 * Per-request state handed from stage to stage. A class with every field declared up front
 * keeps one object shape on the hot path.
 */
export class RequestContext {
  readonly startedAt: number = performance.now()
  /** True once the client has gone away (connection closed before the response finished). */
  clientGone = false
  #onClientGone: (() => void) | null = null
  #tokenEstimate: TokenEstimate | null = null
  /** Set by the server when it already knows the answer is an error (bad path, wrong method). */
  refusal: SluiceError | null = null
  /** The raw request body, once ingress has read it. */
  body: Buffer | null = null
  /** The parsed JSON body of a managed endpoint. */
  json: Record<string, unknown> | null = null
  model: string | null = null
  stream = false
  route: ModelRoute | null = null
  /** Who is calling, once the auth stage knows (the anonymous consumer when auth is off). */
  consumer: Consumer | null = null
  /** The split group the request was assigned to, when its route has a split. */
  group: SplitGroup | null = null
  /** The model whose fallback serves the request, when one does (the route is then the fallback's). */
  fallbackFrom: string | null = null
  /** Set instead of `route` when the request goes to the passthrough provider. */
  passthrough: Provider | null = null
  deployment: Deployment | null = null
  /** The key the request is sent with (the deployment's, or one of the passthrough provider's). */
  key: ProviderKey | null = null
  /** Provider that answered or failed, for logs (a deployment's or the passthrough's). */
  provider: Provider | null = null
  status = 0
  outcome: Outcome = 'success'
  /** Error code sent to the client, when sluice answered with an error. */
  errorCode: string | null = null
  /** The upstream's HTTP status, 0 when none arrived. */
  upstreamStatus = 0
  /** What went wrong upstream (an HTTP status or a transport failure kind), for metrics. */
  upstreamFailure: string | null = null
  upstreamStartedAt = 0
  upstreamFirstByteAt = 0
  upstreamEndedAt = 0
  usage: Usage | null = null
  /** Set by the scheduler while an upstream attempt is under way. */
  attempt: UpstreamAttempt | null = null
  /** sluice asked the upstream for stream usage the client did not ask for: its chunk is removed. */
  stripUsageChunk = false
  /** Server-sent events relayed to the client, for the partial usage of a stream the client left. */
  streamEvents = 0
  /** A passthrough request that creates a file, batch or response: told the answer's first bytes, to pin the new object to its key. */
  onCreated: ((head: Buffer) => void) | null = null
  /** The last attempt's 429 was taken back by the scheduler (nothing was sent to the client). */
  refusalHeld = false
  /**
   * The last attempt failed (5xx, 401/403, a connection failure or reset, a malformed answer)
   * before the client received anything: this is the error the client would have got. The
   * scheduler retries on another key, falls back, or throws it.
   */
  failureHeld: SluiceError | null = null
  /** Upstream attempts made (a held 429 and the retry after it are two). */
  attempts = 0
  /** Time spent waiting in the queue, ms (all waits of a request together). */
  queuedMs = 0
  /** 0 urgent … 3 low; null until the scheduler reads X-Priority. */
  priority: Priority | null = null

  constructor(
    readonly id: string,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly runtime: Runtime,
    /** A managed endpoint, or 'passthrough' for the guarded catch-all. */
    readonly endpoint: Endpoint | 'passthrough',
    /** For passthrough: the normalised path below /v1 (with query). */
    readonly pathBelowV1: string,
  ) {}

  /** Clears what one upstream attempt wrote, before the scheduler sends the request again. */
  resetAttempt(): void {
    this.refusalHeld = false
    this.failureHeld = null
    this.status = 0
    this.outcome = 'success'
    this.errorCode = null
    this.upstreamStatus = 0
    this.upstreamFailure = null
    this.upstreamStartedAt = 0
    this.upstreamFirstByteAt = 0
    this.upstreamEndedAt = 0
    this.usage = null
  }

  /** X-Priority as the client sent it; null without one, 400 invalid_header for a value outside the scale. */
  requestedPriority(): Priority | null {
    const raw = this.req.headers['x-priority']
    const p = parsePriority(typeof raw === 'string' ? raw : undefined)
    if (p === 'invalid') throw new SluiceError('invalid_header', ['X-Priority', 'use urgent, high, normal, low, or 0 (urgent) to 3 (low)'], { param: 'X-Priority' })
    return p
  }

  /** Tokens a managed request is charged (prompt by size, plus max_tokens or the reserve); worked out once, by whichever stage asks first. */
  tokenEstimate(): TokenEstimate {
    this.#tokenEstimate ??= estimateTokens(this.endpoint as Endpoint, this.body?.length ?? 0, this.json ?? {}, this.runtime.outputReserve)
    return this.#tokenEstimate
  }

  /** Called by the server when the client connection closes early; runs the registered handler once. */
  clientClosed(): void {
    if (this.clientGone) return
    this.clientGone = true
    const handler = this.#onClientGone
    this.#onClientGone = null
    handler?.()
  }

  /** Registers what to do when the client goes away (one handler: the stage doing I/O now). */
  onClientGone(handler: (() => void) | null): void {
    this.#onClientGone = handler
  }
}

/** The client went away before its request was complete; nobody is left to answer. */
export class ClientGoneError extends Error {
  constructor() {
    super('the client closed the connection')
    this.name = 'ClientGoneError'
  }
}

export type Stage = (ctx: RequestContext, next: () => Promise<void>) => Promise<void>
