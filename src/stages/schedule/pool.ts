import type { Deployment, QueueSettings } from '../../config/runtime.js'
import { ClientGoneError, type RequestContext } from '../../context.js'
import type { Candidate } from '../../core/balance/index.js'
import { undemotedFirst } from '../../core/breaker/index.js'
import type { Clock, Timers } from '../../core/clock.js'
import { PoolQueue, priorityNames, type Priority } from '../../core/queue/index.js'
import { SluiceError } from '../../errors.js'
import type { ScheduleMetrics } from './metrics.js'
import { ScheduledAttempt, type AttemptPorts } from './scheduled-attempt.js'
import type { Pumpable, Wakeups } from './wakeups.js'
import type { Waiter } from './waiter.js'

/** Retry-After for no_capacity when every key is disabled and none has a known return time. */
const unknownReturnMs = 30_000

/** What a strategy sees of one deployment; one reused object per slot of a pool's scratch list. */
export interface CandidateSlot {
  id: string
  weight: number
  inflight: number
  limit: number
  waitMs: number
  ttftMs: number | null
  queueDepth: number | null
  serverRunning: number | null
  cacheUsage: number | null
}

/** Reads a deployment's load as a vLLM server reports it, for the `metrics` strategy. */
export type LoadReader = (d: Deployment, slot: CandidateSlot) => void

export interface PoolOptions {
  readonly model: string
  readonly clock: Clock
  /** Queue deadlines and keep-alives. */
  readonly timers: Timers
  readonly wakeups: Wakeups
  readonly metrics: ScheduleMetrics
  readonly attemptPorts: AttemptPorts
  readonly rand?: () => number
  readonly readLoad?: LoadReader | null
}

/**
 * The bounded queue in front of one model, and the dispatcher that drains it as keys allow.
 *
 * Only a request that cannot be sent now waits, and no waiter holds up one behind it that a key
 * can take. Most waiters are *plain*: the same candidate keys, none tried yet, so when one of
 * them cannot go none can, and the dispatcher stops at the first such head without looking
 * further. The others (a retry that must avoid the key it tried, a split group's own
 * deployments) are kept apart by priority: one that reaches the head and cannot go is set
 * *aside*, keeping its turn ahead of everything behind it (it is offered each key that frees up
 * first), and those further back are offered the keys no plain waiter can use. A newcomer goes
 * straight to a key only after every waiter that could use it has had it.
 */
export class Pool implements Pumpable {
  readonly queue = new PoolQueue<Waiter>()
  /** `when_full: passthrough`: requests that skipped the queue but still wait for a key, served first. */
  readonly bypass = new Set<Waiter>()
  /** Waiters that reached the head of their lane and wait for keys of their own, in that order. */
  readonly #aside = new Set<Waiter>()
  readonly #asideByPriority: [number, number, number, number] = [0, 0, 0, 0]
  readonly #asideByConsumer = new Map<string, number>()
  /** The candidates every plain waiter has, and how many plain waiters there are (both lanes). */
  #plainCandidates: readonly Deployment[] | null = null
  #plainCount = 0
  /** Waiters in a lane that are not plain, by priority, in the order they parked. */
  readonly #odd: readonly [Set<Waiter>, Set<Waiter>, Set<Waiter>, Set<Waiter>] = [new Set(), new Set(), new Set(), new Set()]
  /** Candidate lists found blocked in this drain: a plain-like waiter with one of them cannot go either. */
  readonly #blocked: (readonly Deployment[])[] = []
  /** Set at shutdown's deadline: nothing waits here any more, every request is refused with it. */
  refusal: (() => Error) | null = null
  #pumping = false
  #pumpAgain = false
  /** The deployments that can take the request being dispatched now, and what the strategy sees of them. */
  readonly #eligible: Deployment[] = []
  readonly #slots: CandidateSlot[] = []
  readonly #views: CandidateSlot[][] = []

  readonly model: string
  private readonly clock: Clock
  private readonly timers: Timers
  private readonly wakeups: Wakeups
  private readonly metrics: ScheduleMetrics
  private readonly rand: () => number
  private readonly readLoad: LoadReader | null
  private readonly attemptPorts: AttemptPorts

  constructor(opts: PoolOptions) {
    this.model = opts.model
    this.clock = opts.clock
    this.timers = opts.timers
    this.wakeups = opts.wakeups
    this.metrics = opts.metrics
    this.rand = opts.rand ?? Math.random
    this.readLoad = opts.readLoad ?? null
    this.attemptPorts = opts.attemptPorts
  }

  get waiting(): number {
    return this.queue.size + this.bypass.size + this.#aside.size
  }

  /** Requests of priority p waiting for the queue's keys (those in `bypass` not included). */
  waitingAt(p: Priority): number {
    return this.queue.sizeOf(p) + this.#asideByPriority[p]
  }

  /**
   * Dispatches a new arrival at once when a key can take it now that no waiter can: waiters
   * that could use the key it would take go first, so nobody waiting is overtaken.
   */
  tryNow(w: Waiter): boolean {
    if (this.refusal !== null) return false
    const now = this.clock.now()
    if (this.waiting > 0) {
      // Every key it could use is busy: it waits like the others (the common case under load).
      if (!this.#anyEligible(w, now)) return false
      this.pump()
    }
    if (!this.#dispatch(w, now, false)) return false
    this.metrics.observeWait(this.model, w.priority, 0)
    return true
  }

  /**
   * Queues a new arrival that tryNow() could not send (applying the `when_full` policy) until a
   * key can take it: the bounds count only requests that wait.
   */
  admit(w: Waiter, settings: QueueSettings): Promise<void> {
    if (this.queue.countFor(w.consumer) + (this.#asideByConsumer.get(w.consumer) ?? 0) >= settings.perConsumer) {
      this.metrics.rejected(this.model, w.priority, 'consumer_full')
      throw new SluiceError('queue_full', [this.model, `this client already has ${settings.perConsumer} requests waiting`], { retryAfter: this.#retryAfterSeconds(w) })
    }
    if (this.queue.size + this.#aside.size >= settings.maxSize) {
      if (settings.whenFull === 'passthrough') return this.#park(w, 'bypass')
      const lowest = this.queue.lowestWaitingPriority()
      const victim = settings.whenFull === 'shed-lowest' && lowest !== null && w.priority < lowest ? this.queue.newest(lowest) : undefined
      if (victim === undefined) {
        this.metrics.rejected(this.model, w.priority, 'full')
        throw new SluiceError('queue_full', [this.model, `${settings.maxSize} requests are waiting`], { retryAfter: this.#retryAfterSeconds(w) })
      }
      this.#unpark(victim)
      this.metrics.rejected(this.model, victim.priority, 'shed')
      victim.failed(new SluiceError('queue_full', [this.model, `a ${priorityNames[w.priority]} request took this ${priorityNames[victim.priority]} one's place`], { retryAfter: this.#retryAfterSeconds(victim) }))
    }
    return this.#park(w, 'queue')
  }

  /** A request whose 429 was taken back goes to the head of its consumer's line, keeping its place. */
  requeue(w: Waiter): Promise<void> {
    return this.#park(w, w.lane === 'bypass' ? 'bypass' : 'front')
  }

  /** Dispatches waiting requests, in queue order, while keys can take them; true if any went. */
  pump(): boolean {
    if (this.#pumping) {
      this.#pumpAgain = true
      return false
    }
    this.#pumping = true
    let sent = false
    try {
      do {
        this.#pumpAgain = false
        if (this.#drain()) sent = true
      } while (this.#pumpAgain)
    } finally {
      this.#pumping = false
    }
    return sent
  }

  /** Takes every waiting request out of this pool and fails it with `refusal()`; returns how many. */
  refuseAll(refusal: () => Error): number {
    this.refusal = refusal
    let n = 0
    for (let w = this.#anyWaiter(); w !== undefined; w = this.#anyWaiter()) {
      this.#unpark(w)
      this.metrics.rejected(this.model, w.priority, 'shutdown')
      w.failed(refusal())
      n++
    }
    return n
  }

  /** Seconds a client should wait before trying again, from the pacers of the keys it could use. */
  retryAfterMs(w: Waiter, now: number): number {
    let best = Infinity
    for (const d of w.candidates) {
      if (w.hasTried(d)) continue
      // A key whose permits are all held, or held back with requests of ours in flight, frees
      // up when one of them ends: no time to add.
      const held = d.limit.inflight > 0 ? 0 : d.limit.wait(now)
      const broken = d.breaker.wait(now)
      best = Math.min(best, Math.max(d.pacer.wait(now, w.tokens, false), held, broken === Infinity ? unknownReturnMs : broken))
    }
    return best === Infinity ? 1000 : best
  }

  /** Whether a key `w` has not tried yet is in service (it may still have to wait for capacity). */
  hasAlternative(w: Waiter, now: number): boolean {
    for (const d of w.candidates) if (!w.hasTried(d) && !isOut(d, now)) return true
    return false
  }

  /** Whether `w` has keys it has not tried, and every one of them is out of service now. */
  untriedAllOut(w: Waiter, now: number): boolean {
    let untried = 0
    for (const d of w.candidates) {
      if (w.hasTried(d)) continue
      if (!isOut(d, now)) return false
      untried++
    }
    return untried > 0
  }

  /** The client-facing error when every key is out of service: come back when the first one returns. */
  noCapacity(w: Waiter): SluiceError {
    const now = this.clock.now()
    let soonest = Infinity
    for (const d of w.candidates) soonest = Math.min(soonest, Math.max(d.breaker.wait(now), d.pacer.disabled(now) ? d.pacer.disabledUntil - now : 0))
    const ms = soonest === Infinity ? unknownReturnMs : soonest
    return new SluiceError('no_capacity', [this.model], { retryAfter: Math.max(1, Math.ceil(ms / 1000)) })
  }

  #retryAfterSeconds(w: Waiter): number {
    return Math.max(1, Math.ceil(this.retryAfterMs(w, this.clock.now()) / 1000))
  }

  #drain(): boolean {
    const now = this.clock.now()
    this.#blocked.length = 0
    let sent = this.#drainLane(true, now)
    // Those set aside were ahead of everyone still in the queue: each key that frees up is theirs first.
    if (this.#aside.size > 0) for (const w of this.#aside) if (this.#serve(w, now) === 'sent') sent = true
    if (this.#drainLane(false, now)) sent = true
    // Further back, waiters that are not plain may have keys no plain waiter can use.
    for (const odd of this.#odd) {
      if (odd.size > 0) for (const w of odd) if (this.#serve(w, now) === 'sent') sent = true
    }
    return sent
  }

  /** Sends the heads of `bypass` or of the fair queue while they can go; true if any went. */
  #drainLane(bypass: boolean, now: number): boolean {
    let sent = false
    for (;;) {
      const head = bypass ? first(this.bypass) : this.queue.peek()
      if (head === undefined) return sent
      const served = this.#serve(head, now)
      if (served === 'sent') sent = true
      else if (served === 'blocked') {
        // Plain: every plain waiter behind it waits for the same keys. Else the rest may go past it.
        if (head.plain) return sent
        this.#setAside(head)
      }
    }
  }

  /** Sends a waiting request if a key can take it now; fails it if it must not wait any more. */
  #serve(w: Waiter, now: number): 'sent' | 'gone' | 'blocked' {
    // Its deadline timer may be due in this same turn of the event loop, behind the wake-up
    // that brought us here: past its max wait, a request is never sent.
    if (now >= w.deadline) {
      this.#expire(w)
      return 'gone'
    }
    const plainLike = w.tried === null
    if (plainLike && this.#blocked.includes(w.candidates)) return 'blocked'
    if (this.#dispatch(w, now, true)) {
      this.#leaveServed(w)
      this.#unpark(w)
      this.metrics.observeWait(this.model, w.priority, now - w.waitStartedAt)
      w.ctx.queuedMs += now - w.waitStartedAt
      w.wake()
      return 'sent'
    }
    if (!w.panicMode && this.#allOut(w, now)) {
      this.#unpark(w)
      this.metrics.rejected(this.model, w.priority, 'no_capacity')
      w.failed(this.noCapacity(w))
      return 'gone'
    }
    // Dispatching only uses keys up, so within this drain its keys stay busy for everyone.
    if (plainLike) this.#blocked.push(w.candidates)
    return 'blocked'
  }

  /** `w` is being sent: charge its place in the fair queue, as its turn or out of it. */
  #leaveServed(w: Waiter): void {
    if (w.where === 'queue') {
      if (this.queue.peek() === w) this.queue.pop()
      else this.queue.take(w)
    } else if (w.where === 'aside' && w.lane === 'queue') {
      this.queue.charge(w)
    }
  }

  #anyWaiter(): Waiter | undefined {
    return first(this.#aside) ?? first(this.bypass) ?? this.queue.peek()
  }

  /** A head that waits for keys of its own leaves its lane (uncharged) and keeps its turn aside. */
  #setAside(w: Waiter): void {
    if (w.where === 'queue') this.queue.remove(w)
    else this.bypass.delete(w)
    this.#odd[w.priority].delete(w)
    this.#aside.add(w)
    w.where = 'aside'
    this.#asideByPriority[w.priority]++
    this.#asideByConsumer.set(w.consumer, (this.#asideByConsumer.get(w.consumer) ?? 0) + 1)
  }

  /** Whether a key `w` could use can take a request now (its pacer, permits and breaker allow it). */
  #anyEligible(w: Waiter, now: number): boolean {
    for (const d of w.candidates) if (eligible(w, d, now, false)) return true
    return false
  }

  /**
   * Gives `w` a deployment that can take it now — its breaker lets it through, it has a free
   * permit and its pacer allows it — chosen by the route's strategy, and charges that key.
   * When none can, arms a wake-up on every candidate key for the moment it can.
   */
  #dispatch(w: Waiter, now: number, waiting: boolean): boolean {
    const keys = this.#eligible
    let n = 0
    for (const d of w.candidates) if (eligible(w, d, now, waiting)) keys[n++] = d
    n = undemotedFirst(keys, n, now) // keys demoted by the ejection cap only when no other key can take it
    if (n > 0) {
      const pick = n === 1 ? 0 : w.strategy.pick(this.#candidates(w, n), w.affinity, this.rand)
      const d = keys[pick < 0 ? 0 : pick] as Deployment
      keys.length = 0
      this.#assign(w, d, now, true)
      return true
    }
    keys.length = 0
    if (w.panicMode && this.#allOut(w, now)) return this.#panic(w, now, waiting)
    this.#armWakeups(w, now, waiting)
    return false
  }

  /** Fills the strategy's view of the first `n` eligible deployments. */
  #candidates(w: Waiter, n: number): readonly Candidate[] {
    const slots = this.#slots
    while (slots.length < n) slots.push({ id: '', weight: 0, inflight: 0, limit: 0, waitMs: 0, ttftMs: null, queueDepth: null, serverRunning: null, cacheUsage: null })
    for (let i = 0; i < n; i++) {
      const d = this.#eligible[i] as Deployment
      const slot = slots[i] as CandidateSlot
      slot.id = d.id
      slot.weight = d.weight
      slot.inflight = d.limit.inflight
      slot.limit = d.limit.effective
      slot.waitMs = 0
      slot.ttftMs = d.ttft.value
      if (this.readLoad !== null && w.strategy.name === 'metrics') this.readLoad(d, slot)
    }
    // One array per candidate count, made once and holding the same slot objects: a pick allocates nothing.
    let view = this.#views[n]
    if (view === undefined) this.#views[n] = view = slots.slice(0, n)
    return view
  }

  /**
   * panic_mode with every key out: the key whose breaker reopens soonest takes the request
   * anyway, still within its pacer and permits.
   */
  #panic(w: Waiter, now: number, waiting: boolean): boolean {
    let soonest: Deployment | null = null
    let soonestWait = Infinity
    for (const d of w.candidates) {
      if (w.hasTried(d) || d.pacer.disabled(now)) continue
      const wait = d.breaker.wait(now)
      if (soonest === null || wait < soonestWait) {
        soonest = d
        soonestWait = wait
      }
    }
    if (soonest === null) return false
    const held = soonest.limit.wait(now)
    const paced = soonest.pacer.wait(now, w.tokens, waiting)
    if (held === 0 && paced === 0) {
      this.#assign(w, soonest, now, false)
      return true
    }
    if (held > 0) this.wakeups.arm(soonest.limit, held, this)
    else if (paced !== Infinity) this.wakeups.arm(soonest.pacer, paced, this)
    return false
  }

  #armWakeups(w: Waiter, now: number, waiting: boolean): void {
    for (const d of w.candidates) {
      if (w.hasTried(d)) continue
      const broken = d.breaker.wait(now)
      if (broken > 0) {
        // Open: wake when it turns half-open. Half-open with its trial out, or disabled: the
        // trial's end or a probe changes the breaker, and the scheduler pokes it then.
        this.wakeups.arm(d.breaker, broken, this)
        continue
      }
      const held = d.limit.wait(now)
      if (held > 0) {
        // Event driven: the next permit released on this key pumps this pool (and, after a
        // concurrency 429 with nothing of ours in flight, so does the end of its hold).
        this.wakeups.arm(d.limit, held, this)
        continue
      }
      const wait = d.pacer.wait(now, w.tokens, waiting)
      if (wait !== Infinity) this.wakeups.arm(d.pacer, wait, this)
    }
  }

  /** Charges `d` for `w` — a pacer slot, a permit, the breaker's trial — and hands `w` the attempt that owns them. */
  #assign(w: Waiter, d: Deployment, now: number, healthy: boolean): void {
    d.pacer.take(now, w.tokens)
    const permit = d.limit.acquire()
    const trial = healthy ? d.breaker.dispatched(now) : false
    const ctx = w.ctx
    w.granted = new ScheduledAttempt(
      { deployment: d, number: ctx.attempts.length + 1, tokens: w.tokens, permit, trial, dispatchedAt: now, ports: this.attemptPorts },
      ctx.servingRoute,
    )
  }

  /** Every key this request could still use is out of service (breaker open or disabled, or quota exhausted). */
  #allOut(w: Waiter, now: number): boolean {
    for (const d of w.candidates) if (!w.hasTried(d) && !isOut(d, now)) return false
    return true
  }

  #park(w: Waiter, where: 'queue' | 'front' | 'bypass'): Promise<void> {
    const ctx = w.ctx
    // Gone before it could wait (while its body was read): never queued, never sent.
    if (ctx.clientGone) return Promise.reject(new ClientGoneError())
    // Past shutdown's deadline: a request that would wait (a new one, or one back from a 429)
    // is answered now, before the connections are cut.
    if (this.refusal !== null) {
      this.metrics.rejected(this.model, w.priority, 'shutdown')
      return Promise.reject(this.refusal())
    }
    w.granted = null
    const now = this.clock.now()
    w.waitStartedAt = now
    if (where === 'bypass') {
      this.bypass.add(w)
      w.where = w.lane = 'bypass'
    } else {
      if (where === 'front') this.queue.pushFront(w)
      else this.queue.push(w)
      w.where = w.lane = 'queue'
    }
    this.#classify(w)
    if (w.keepaliveMs > 0 && ctx.stream) this.#keepAlive(w)
    const parked = w.parked()
    const remaining = w.deadline - now
    w.deadlineTimer = this.timers.setTimeout(() => this.#expire(w), Math.max(0, Math.ceil(remaining)))
    ctx.onClientGone(() => {
      this.#unpark(w)
      this.metrics.rejected(this.model, w.priority, 'client_gone')
      w.failed(new ClientGoneError())
      this.pump()
    })
    this.pump()
    return parked
  }

  #expire(w: Waiter): void {
    w.deadlineTimer = null
    if (w.where === 'none') return
    this.#unpark(w)
    const retryAfter = this.#retryAfterSeconds(w)
    if (w.refusedUpstream) {
      this.metrics.rejected(this.model, w.priority, 'rate_limited')
      w.failed(new SluiceError('rate_limit_exceeded', [this.model, 'its upstream keys could not take the request within its maximum wait'], { retryAfter }))
    } else {
      this.metrics.rejected(this.model, w.priority, 'timeout')
      w.failed(new SluiceError('queue_timeout', [this.model, Math.round(this.clock.now() - w.waitStartedAt)], { retryAfter }))
    }
    this.pump()
  }

  /** An SSE comment every keepaliveMs while a stream waits; the next one is armed by the last. */
  #keepAlive(w: Waiter): void {
    w.keepaliveTimer = this.timers.setTimeout(() => {
      keepAlive(w.ctx)
      if (w.where !== 'none') this.#keepAlive(w)
    }, w.keepaliveMs)
  }

  /** Whether `w`, entering a lane, waits for the same keys as the plain waiters there (it becomes one). */
  #classify(w: Waiter): void {
    if (w.tried === null && this.#plainCount === 0) this.#plainCandidates = w.candidates
    w.plain = w.tried === null && w.candidates === this.#plainCandidates
    if (w.plain) this.#plainCount++
    else this.#odd[w.priority].add(w)
  }

  /** Takes `w` out of wherever it waits, with its timers. */
  #unpark(w: Waiter): void {
    const where = w.where
    if (where === 'queue' && w.queueFlow !== null) this.queue.remove(w)
    else if (where === 'bypass') this.bypass.delete(w)
    if (where === 'aside') {
      this.#aside.delete(w)
      this.#asideByPriority[w.priority]--
      const n = (this.#asideByConsumer.get(w.consumer) ?? 0) - 1
      if (n > 0) this.#asideByConsumer.set(w.consumer, n)
      else this.#asideByConsumer.delete(w.consumer)
    } else if (where !== 'none') {
      // The last plain waiter gone: the next one to park sets what plain means (and an old
      // config generation's deployments are not kept alive here).
      if (w.plain && --this.#plainCount === 0) this.#plainCandidates = null
      else if (!w.plain) this.#odd[w.priority].delete(w)
    }
    w.where = 'none'
    if (w.deadlineTimer !== null) this.timers.clearTimeout(w.deadlineTimer)
    w.deadlineTimer = null
    if (w.keepaliveTimer !== null) this.timers.clearTimeout(w.keepaliveTimer)
    w.keepaliveTimer = null
    w.ctx.onClientGone(null)
  }
}

function first<T>(set: Set<T>): T | undefined {
  if (set.size === 0) return undefined // no iterator for the usual empty set
  for (const x of set) return x
  return undefined
}

/** Whether `d` can take `w` now: not tried by it, its breaker lets it through, a free permit, its pacer allows it. */
function eligible(w: Waiter, d: Deployment, now: number, waiting: boolean): boolean {
  if (w.hasTried(d) || d.breaker.wait(now) > 0) return false
  return d.limit.wait(now) === 0 && d.pacer.wait(now, w.tokens, waiting) === 0
}

/** Out of service: its breaker is open or disabled, or its quota is exhausted. Half-open is in service. */
function isOut(d: Deployment, now: number): boolean {
  if (d.pacer.disabled(now)) return true
  const state = d.breaker.state(now)
  return state === 'open' || state === 'disabled'
}

/** An SSE comment keeps proxies from cutting a stream that is still waiting for its turn. */
function keepAlive(ctx: RequestContext): void {
  const res = ctx.res
  if (res.writableEnded || ctx.clientGone) return
  if (!res.headersSent) {
    // Set one by one, not passed to writeHead: an error later reads the content type back to
    // know it can still end this response with an SSE error event.
    res.setHeader('content-type', 'text/event-stream')
    res.setHeader('cache-control', 'no-cache')
    res.setHeader('x-accel-buffering', 'no')
    res.setHeader('x-request-id', ctx.id)
    res.writeHead(200)
  }
  res.write(': waiting for an upstream slot\n\n')
}
