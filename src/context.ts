import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Attempt } from './attempt.js'
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
  /** The fallback model that serves the request, when the requested one could not (set by schedule). */
  fallback: ModelRoute | null = null
  /** Set instead of `route` when the request goes to the passthrough provider. */
  passthrough: Provider | null = null
  /** The passthrough provider's key that serves the request (set by balance). */
  passthroughKey: ProviderKey | null = null
  status = 0
  outcome: Outcome = 'success'
  /** Error code sent to the client, when sluice answered with an error. */
  errorCode: string | null = null
  /** A passthrough request that creates a file, batch or response: told the answer's first bytes, to pin the new object to its key. */
  onCreated: ((head: Buffer) => void) | null = null
  /**
   * Every upstream try, in order (a held 429 and the try after it are two). Appended by the
   * stage that dispatches (schedule for managed requests, forward for passthrough); what
   * observe logs about the upstream is the last one's.
   */
  readonly attempts: Attempt[] = []
  /**
   * The try whose answer is the request's, when there is one: the last one sent, until the
   * request goes back to a queue (or to a fallback) and this is cleared. What observe, admit and
   * the ledger read about the upstream (status, timings, usage) is this one's.
   */
  current: Attempt | null = null
  /**
   * The caller's admission across instances (state: redis), sent but not yet answered: the
   * schedule stage awaits it beside the first key's lease, so both cost one round trip; it
   * rejects with the caller's 429. Set by admit for managed requests only; null once taken.
   */
  admission: Promise<void> | null = null
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

  /** The model that serves the request: the fallback when one took over, else the routed one. */
  get servingRoute(): ModelRoute | null {
    return this.fallback ?? this.route
  }

  /** The last upstream try, null before any. */
  get lastAttempt(): Attempt | null {
    return this.attempts.length === 0 ? null : (this.attempts[this.attempts.length - 1] as Attempt)
  }

  /** The provider of the last try (or the passthrough provider before one), for logs. */
  get provider(): Provider | null {
    return this.lastAttempt?.provider ?? this.passthrough
  }

  /** The key of the last try: the one that answered, or the last one the request was given. */
  get key(): ProviderKey | null {
    return this.lastAttempt?.key ?? null
  }

  get deployment(): Deployment | null {
    return this.lastAttempt?.deployment ?? null
  }

  get upstreamStatus(): number {
    return this.current?.upstreamStatus ?? 0
  }

  get upstreamFailure(): string | null {
    return this.current?.failure ?? null
  }

  get upstreamStartedAt(): number {
    return this.current?.startedAt ?? 0
  }

  get upstreamFirstByteAt(): number {
    return this.current?.firstByteAt ?? 0
  }

  get upstreamEndedAt(): number {
    return this.current?.endedAt ?? 0
  }

  get usage(): Usage | null {
    return this.current?.usage ?? null
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
