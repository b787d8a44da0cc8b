import type { Deployment } from '../../config/runtime.js'
import type { RequestContext } from '../../context.js'
import type { Strategy } from '../../core/balance/index.js'
import type { ConsumerFlow, Priority, QueueEntry } from '../../core/queue/index.js'
import type { TimerHandle } from '../../core/clock.js'
import type { SluiceError } from '../../errors.js'
import type { ScheduledAttempt } from './scheduled-attempt.js'

/**
 * Where a request waits: its lane (the fair queue, or `bypass` for `when_full: passthrough`),
 * or `aside` — it reached the head of its lane but waits for a key of its own (see Pool).
 */
export type Where = 'none' | 'queue' | 'bypass' | 'aside'

export interface WaiterOptions {
  readonly ctx: RequestContext
  readonly priority: Priority
  /** Who the queue is fair between (a consumer id, a credential or an address; never logged). */
  readonly consumer: string
  /** The consumer's fairness weight (its tier's, or 1). */
  readonly weight: number
  /** Tokens charged to the key's pacer at dispatch. */
  readonly tokens: number
  /** Queue fairness cost: input + 2 × output tokens. */
  readonly cost: number
  /** The deployments of the model being tried. */
  readonly candidates: readonly Deployment[]
  /** The route's balancing strategy, and what `hash` keeps a caller on. */
  readonly strategy: Strategy
  readonly affinity: string | null
  /** Send to the key that returns soonest when every key is out. */
  readonly panicMode: boolean
  /** The instant after which this request is never sent upstream. */
  readonly deadline: number
  /** SSE keep-alive interval while a stream waits; 0 = off. */
  readonly keepaliveMs: number
}

/**
 * One request waiting for one model's keys: its place in the queue, its deadline, and the
 * keys it has tried. It lives while the attempt loop serves the request with that model; each
 * grant hands it a fresh ScheduledAttempt.
 */
export class Waiter implements QueueEntry {
  readonly ctx: RequestContext
  readonly priority: Priority
  readonly consumer: string
  readonly weight: number
  readonly tokens: number
  readonly cost: number
  readonly candidates: readonly Deployment[]
  readonly strategy: Strategy
  readonly affinity: string | null
  readonly panicMode: boolean
  readonly deadline: number
  readonly keepaliveMs: number
  // Links owned by the queue (see core/queue/entry.ts).
  queuePrev: QueueEntry | null = null
  queueNext: QueueEntry | null = null
  queueOlder: QueueEntry | null = null
  queueNewer: QueueEntry | null = null
  queueFlow: ConsumerFlow | null = null
  where: Where = 'none'
  /** Where it waited last: a retry goes back to the same lane. */
  lane: 'queue' | 'bypass' = 'queue'
  /**
   * Waits for the same keys as the pool's other plain requests (the same candidates, none tried):
   * when one of them cannot go, none can. Set each time it parks.
   */
  plain = false
  /** Took a 429 back at least once: running out of time is then a rate limit, not a queue timeout. */
  refusedUpstream = false
  /** When this wait began (the arrival, or the 429 that sent it back). */
  waitStartedAt = 0
  deadlineTimer: TimerHandle | null = null
  keepaliveTimer: TimerHandle | null = null
  /** The attempt the last grant made; the attempt loop takes it from here. */
  granted: ScheduledAttempt | null = null
  /** Deployments an earlier attempt failed on: a retry goes elsewhere. Null until the first retry. */
  tried: Deployment[] | null = null
  #resolve: (() => void) | null = null
  #reject: ((err: Error) => void) | null = null

  constructor(opts: WaiterOptions) {
    this.ctx = opts.ctx
    this.priority = opts.priority
    this.consumer = opts.consumer
    this.weight = opts.weight
    this.tokens = opts.tokens
    this.cost = opts.cost
    this.candidates = opts.candidates
    this.strategy = opts.strategy
    this.affinity = opts.affinity
    this.panicMode = opts.panicMode
    this.deadline = opts.deadline
    this.keepaliveMs = opts.keepaliveMs
  }

  hasTried(d: Deployment): boolean {
    return this.tried !== null && this.tried.includes(d)
  }

  /** The attempt on `d` failed: the next one goes to another key. */
  exclude(d: Deployment): void {
    if (this.tried === null) this.tried = [d]
    else if (!this.tried.includes(d)) this.tried.push(d)
  }

  /** A promise settled by wake() or fail(). */
  parked(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#resolve = resolve
      this.#reject = reject
    })
  }

  wake(): void {
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
}
