import type { IncomingHttpHeaders } from 'node:http'
import type { Deployment } from '../../config/runtime.js'
import type { RequestContext, UpstreamAttempt } from '../../context.js'
import type { Strategy } from '../../core/balance/index.js'
import type { KeyBreaker } from '../../core/breaker/index.js'
import type { Clock } from '../../core/clock.js'
import type { ConcurrencyLimit } from '../../core/limit/concurrency-limit.js'
import { parseRateLimitHeaders, type RateLimitSnapshot } from '../../core/headers/rate-limits.js'
import { classify429, type RateLimitKind } from '../../core/pacer/classify-429.js'
import type { KeyPacer } from '../../core/pacer/key-pacer.js'
import type { ConsumerFlow, Priority, QueueEntry } from '../../core/queue/index.js'
import type { SluiceError } from '../../errors.js'
import type { Endpoint } from '../../providers/types.js'

export type Where = 'none' | 'queue' | 'bypass'

/** A concurrency 429 without Retry-After holds the key back this long when none of ours can free a slot. */
const concurrencyRetryDefaultMs = 1_000
const concurrencyRetryCapMs = 30_000

/**
 * One request in the scheduler: its place in the queue, its deadline, the key it was given,
 * and what that key's answer said. It lives from arrival to the request's end, across retries.
 */
export class Waiter implements QueueEntry, UpstreamAttempt {
  /** The consumer's fairness weight (its tier's, or 1). */
  weight = 1
  // Links owned by the queue (see core/queue/entry.ts).
  queuePrev: QueueEntry | null = null
  queueNext: QueueEntry | null = null
  queueOlder: QueueEntry | null = null
  queueNewer: QueueEntry | null = null
  queueFlow: ConsumerFlow | null = null
  where: Where = 'none'
  /** Where it waited last: a retry goes back to the same lane. */
  lane: 'queue' | 'bypass' = 'queue'
  /** Took a 429 back at least once: running out of time is then a rate limit, not a queue timeout. */
  refusedUpstream = false
  /** When this wait began (the arrival, or the 429 that sent it back). */
  waitStartedAt = 0
  deadlineTimer: NodeJS.Timeout | null = null
  keepaliveTimer: NodeJS.Timeout | null = null
  #resolve: (() => void) | null = null
  #reject: ((err: Error) => void) | null = null

  deployment: Deployment | null = null
  pacer: KeyPacer | null = null
  /** The key's concurrency limit while this request holds one of its permits; null otherwise. */
  limit: ConcurrencyLimit | null = null
  /** Permits held on the key right after this one took its own. */
  permitsAtDispatch = 0
  dispatchedAt = 0
  snapshot: RateLimitSnapshot | null = null
  lastRefusal: RateLimitKind | null = null
  /** The key's breaker while this request's attempt runs on it; null otherwise. */
  breaker: KeyBreaker | null = null
  /** The attempt took its key's half-open trial. */
  trial = false
  /** Deployments an earlier attempt failed on: a retry goes elsewhere. Null until the first retry. */
  tried: Deployment[] | null = null

  constructor(
    readonly ctx: RequestContext,
    readonly priority: Priority,
    readonly consumer: string,
    /** Tokens charged to the key's pacer at dispatch. */
    readonly tokens: number,
    /** Queue fairness cost: input + 2 × output tokens. */
    readonly cost: number,
    readonly candidates: readonly Deployment[],
    /** The route's balancing strategy, and what `hash` keeps a caller on. */
    readonly strategy: Strategy,
    readonly affinity: string | null,
    /** Send to the key that returns soonest when every key is out. */
    readonly panicMode: boolean,
    readonly endpoint: Endpoint,
    /** The instant after which this request is never sent upstream. */
    readonly deadline: number,
    /** SSE keep-alive interval while a stream waits; 0 = off. */
    readonly keepaliveMs: number,
    private readonly clock: Clock,
    /** Wall-clock time for what the concurrency limit records. */
    private readonly epoch: Clock,
    private readonly onRefusal: (w: Waiter, kind: RateLimitKind) => void,
  ) {}

  hasTried(d: Deployment): boolean {
    return this.tried !== null && this.tried.includes(d)
  }

  /** The attempt on `d` failed: the next one goes to another key. */
  exclude(d: Deployment): void {
    if (this.tried === null) this.tried = [d]
    else if (!this.tried.includes(d)) this.tried.push(d)
  }

  /** A promise settled by grant() or fail(). */
  parked(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#resolve = resolve
      this.#reject = reject
    })
  }

  granted(): void {
    const resolve = this.#resolve
    this.#resolve = this.#reject = null
    resolve?.()
  }

  failed(err: SluiceError | Error): void {
    const reject = this.#reject
    this.#resolve = this.#reject = null
    reject?.(err)
  }

  get parkedNow(): boolean {
    return this.#resolve !== null
  }

  responded(_status: number, headers: IncomingHttpHeaders): void {
    const snapshot = parseRateLimitHeaders(headers, Date.now())
    this.snapshot = snapshot
    if (snapshot !== null && this.pacer !== null) this.pacer.observed(this.clock.now(), snapshot)
  }

  holdRefusal(body: Buffer): boolean {
    const pacer = this.pacer
    if (pacer === null) return false
    const now = this.clock.now()
    const kind = classify429({
      status: 429,
      body: body.toString('utf8'),
      snapshot: this.snapshot,
      requestTokens: this.tokens,
      inflight: this.permitsAtDispatch,
      concurrencyLimit: this.limit?.effective ?? null,
      acceptedInflight: this.limit?.acceptedRecently(this.epoch.now()) ?? 0,
      nearRateTarget: pacer.nearRateTarget(now),
    })
    this.lastRefusal = kind
    pacer.refused(now, this.dispatchedAt, kind, this.snapshot)
    const limit = this.limit
    if (limit !== null) {
      limit.refused(this.epoch.now(), kind, this.permitsAtDispatch)
      if (kind === 'concurrent') limit.holdBack(now + Math.min(concurrencyRetryCapMs, this.snapshot?.retryAfterMs ?? concurrencyRetryDefaultMs))
    }
    this.onRefusal(this, kind)
    // An exhausted quota is never retried: the key is out, and the client learns why.
    return kind !== 'quota'
  }
}
