import type { RetrySettings } from '../../config/runtime.js'
import type { BreakerRegistry, HealthFailure, KeyBreaker } from '../../core/breaker/index.js'
import { systemClock, systemTimers, type Clock, type Timers } from '../../core/clock.js'
import type { ConcurrencyLimit } from '../../core/limit/concurrency-limit.js'
import { LimitRegistry } from '../../core/limit/registry.js'
import type { AdaptiveRate } from '../../core/pacer/adaptive-rate.js'
import type { KeyPacer } from '../../core/pacer/key-pacer.js'
import type { PacerRegistry } from '../../core/pacer/registry.js'
import { priorityNames, type Priority } from '../../core/queue/index.js'
import type { SharedState } from '../../state/index.js'
import type { Metrics } from '../../telemetry/metrics.js'
import { LeasedPermits, type LeasedPermitsOptions } from './leased-permits.js'
import { SharedBreakerMirror } from './shared-breakers.js'
import { scheduleMetrics, type ScheduleMetrics } from './metrics.js'
import { Pool, type LoadReader } from './pool.js'
import { Wakeups } from './wakeups.js'
import type { AttemptPorts, ScheduledAttempt } from './scheduled-attempt.js'
import type { Waiter } from './waiter.js'

const pacerStates = ['steady', 'paused', 'retreating', 'recovering'] as const
const breakerStates = ['closed', 'open', 'half-open', 'disabled'] as const

export interface SchedulerOptions {
  readonly pacers: PacerRegistry
  readonly limits?: LimitRegistry
  readonly metrics?: Metrics | null
  readonly clock?: Clock
  /** Queue deadlines and wake-ups; the same fake as `clock` in tests. */
  readonly timers?: Timers
  /** Wall-clock epoch ms, for what the concurrency limits record and persist. */
  readonly epoch?: Clock
  /** Key health; its transitions wake the pools waiting on a key. */
  readonly breakers?: BreakerRegistry
  /** For the balancing strategies that draw at random; injected so tests replay exactly. */
  readonly rand?: () => number
  /** Fills in a deployment's server load for the `metrics` strategy. */
  readonly readLoad?: LoadReader
  /** Shared state (`state:`); in memory the scheduler keeps using its in-process counters. */
  readonly shared?: SharedState | null
  /** With Redis state: live instances as last seen, and what to say when leases fail. */
  readonly leases?: Omit<LeasedPermitsOptions, 'leases' | 'pacing' | 'clock' | 'epoch' | 'timers'>
}

const systemEpoch: Clock = { now: () => Date.now() }

/**
 * The long-lived side of scheduling: one pool per model and one wake-up timer per key. It
 * outlives config generations, so a reload keeps every waiting request and everything learned.
 */
export class Scheduler {
  readonly clock: Clock
  readonly timers: Timers
  readonly epoch: Clock
  /** null in memory mode: every limit is this process's own. */
  readonly shared: SharedState | null
  /** Permits as leases across instances; null in memory mode, where the local count is the whole truth. */
  readonly leases: LeasedPermits | null
  /** Breakers kept in step across instances (state: redis); null in memory mode. */
  readonly #breakerMirror: SharedBreakerMirror | null
  readonly #attemptPorts: AttemptPorts
  readonly #pools = new Map<string, Pool>()
  readonly #wakeups: Wakeups
  readonly #metrics: ScheduleMetrics
  readonly #pacers: PacerRegistry
  readonly #limits: LimitRegistry
  readonly #breakers: BreakerRegistry | null
  readonly #unlisten: () => void
  readonly #rand: () => number
  readonly #readLoad: LoadReader | null
  /** Set by refuseWaiting(): pools made after it refuse too. */
  #refusal: (() => Error) | null = null
  /** Requests in the schedule stage, and those of them holding a share of the retry budget. */
  #active = 0
  #retrying = 0

  constructor(opts: SchedulerOptions) {
    this.clock = opts.clock ?? systemClock
    this.timers = opts.timers ?? systemTimers
    this.epoch = opts.epoch ?? systemEpoch
    this.shared = opts.shared?.kind === 'redis' ? opts.shared : null
    this.#breakerMirror =
      this.shared === null || opts.breakers === undefined
        ? null
        : new SharedBreakerMirror({ breakers: this.shared.breakers, health: this.shared.health, registry: opts.breakers, instanceId: this.shared.instanceId, clock: this.clock, timers: this.timers, ...(opts.leases?.onError ? { onError: opts.leases.onError } : {}) })
    this.leases = this.shared === null ? null : new LeasedPermits({ ...opts.leases, health: this.shared.health, leases: this.shared.permits, pacing: this.shared.pacing, clock: this.clock, epoch: this.epoch, timers: this.timers, trials: this.#breakerMirror, givenBack: (a) => this.#woken(a) })
    this.#limits = opts.limits ?? new LimitRegistry()
    this.#wakeups = new Wakeups(this.clock, this.timers)
    this.#metrics = scheduleMetrics(opts.metrics ?? null)
    const metrics = this.#metrics
    this.#attemptPorts = { clock: this.clock, epoch: this.epoch, onRefusal: (pacer, kind) => metrics.refusal(pacer, kind) }
    this.#pacers = opts.pacers
    this.#breakers = opts.breakers ?? null
    this.#rand = opts.rand ?? Math.random
    this.#readLoad = opts.readLoad ?? null
    // A probe that closes a breaker, or an admin who enables a key, lets waiting requests go now.
    this.#unlisten = this.#breakers?.listen((b) => this.#wakeups.poke(b)) ?? (() => undefined)
    if (opts.metrics) this.#publish(opts.metrics)
  }

  pool(model: string): Pool {
    let pool = this.#pools.get(model)
    if (!pool) {
      pool = new Pool({ model, clock: this.clock, timers: this.timers, wakeups: this.#wakeups, metrics: this.#metrics, attemptPorts: this.#attemptPorts, rand: this.#rand, readLoad: this.#readLoad })
      pool.refusal = this.#refusal
      this.#pools.set(model, pool)
    }
    return pool
  }

  /** A managed request entered scheduling; pair with finished(). */
  started(): void {
    this.#active++
  }

  finished(heldRetry: boolean): void {
    this.#active--
    if (heldRetry) this.#retrying--
  }

  /**
   * Whether one more request may retry now: requests retrying stay within `budget` of those
   * active (at least `minBudget`), so a failing upstream sees at most that much extra load.
   * True takes a share, held until finished(true).
   */
  takeRetry(settings: RetrySettings): boolean {
    if (this.#retrying >= Math.max(settings.minBudget, settings.budget * this.#active)) {
      this.#metrics.retried('budget_exhausted')
      return false
    }
    this.#retrying++
    return true
  }

  /** Counts a retry or a fallback, by why it happened. */
  retried(reason: string): void {
    this.#metrics.retried(reason)
  }

  /**
   * An attempt ended: tell its key's breaker, permit and pacer how, and the queue what the
   * consumer really used. Runs exactly once per attempt (the attempt loop calls it).
   */
  settle(pool: Pool, w: Waiter, a: ScheduledAttempt): void {
    const now = this.clock.now()
    const status = a.upstreamStatus
    const ok = status >= 200 && status < 300 && a.outcome === 'success'
    // The permit ends first, and only once: a second settle of the same attempt changes nothing.
    // A 2xx whose stream broke or whose client left is no evidence the key had room to spare.
    if (!a.permit.release(ok ? 'success' : a.refusal === 'concurrent' ? 'dropped' : 'ignore', this.epoch.now())) return
    judge(a, now)
    if (a.sharedTrial !== null) this.#breakerMirror?.settled(a, now, ok)
    this.leases?.settled(a, now)
    const d = a.deployment
    if (d !== null && a.firstByteAt > 0 && status >= 200 && status < 300) d.ttft.observe(a.firstByteAt - a.startedAt, a.firstByteAt)
    this.#wakeups.poke(a.breaker)
    if (d !== null) this.#wakeups.poke(d.limit)
    const pacer = a.pacer
    const usage = a.usage
    const used = usage !== null && usage.promptTokens !== null ? usage.promptTokens + (usage.completionTokens ?? 0) : null
    pacer.settled(now, { dispatchedAt: a.dispatchedAt, status, tokensCharged: a.tokens, tokensUsed: used })
    if (status === 529) {
      pacer.refused(now, a.dispatchedAt, 'overload', a.snapshot)
      this.#metrics.refusal(pacer, 'overload')
    }
    if (used !== null) {
      // Fairness is charged for what the consumer really used, output counted twice.
      const completion = usage?.completionTokens ?? 0
      pool.queue.adjustCounter(w.consumer, w.priority, used + completion - w.cost, w.weight)
    }
    this.#wakeups.poke(pacer)
  }

  /** What waits on an attempt's key may look again (a permit, trial or pacer charge was freed). */
  #woken(a: ScheduledAttempt): void {
    this.#wakeups.poke(a.breaker)
    if (a.deployment !== null) this.#wakeups.poke(a.deployment.limit)
    this.#wakeups.poke(a.pacer)
  }

  /**
   * Shutdown's deadline: every request still waiting in a queue is answered with `refusal()`
   * now (it is never sent upstream). Returns how many were.
   */
  refuseWaiting(refusal: () => Error): number {
    this.#refusal = refusal
    let n = 0
    for (const pool of this.#pools.values()) n += pool.refuseAll(refusal)
    return n
  }

  /** A limit was raised or its mode changed (admin): requests waiting for its permits may go now. */
  limitChanged(limit: ConcurrencyLimit): void {
    this.#wakeups.poke(limit)
  }

  /** For /status: queues by model and priority, and each key's pacer. */
  snapshot(): unknown {
    const now = this.clock.now()
    const queues: Record<string, unknown> = {}
    for (const [model, pool] of this.#pools) {
      const byPriority: Record<string, number> = {}
      for (let p = 0 as Priority; p <= 3; p++) byPriority[priorityNames[p]] = pool.waitingAt(p)
      queues[model] = { waiting: pool.waiting, by_priority: byPriority, bypassing: pool.bypass.size }
    }
    const pacers = [...this.#pacers.all()].map((p) => describePacer(p, now))
    const concurrency = [...this.#limits.all()].map(describeLimit)
    const health = this.#breakers === null ? [] : [...this.#breakers.all()].map((b) => describeBreaker(b, now))
    return { queues, pacers, concurrency, health }
  }

  #publish(metrics: Metrics): void {
    metrics.queueDepth.read = () => this.#depths()
    metrics.pacerRate.read = () => this.#perPacer((p, now) => p.requests.rate(now))
    metrics.pacerLimit.read = () => this.#perPacer((p) => Math.min(p.requests.ceiling, p.requests.estimate))
    metrics.pacerTokenRate.read = () => this.#perPacer((p, now) => p.tokens.rate(now))
    metrics.pacerState.read = () => this.#states()
    metrics.concurrencyLimit.read = () => this.#perLimit((l) => l.effective, true)
    metrics.concurrencyInFlight.read = () => this.#perLimit((l) => l.inflight, false)
    metrics.breakerState.read = () => this.#breakerStates()
  }

  *#breakerStates(): Iterable<[string[], number]> {
    if (this.#breakers === null) return
    const now = this.clock.now()
    for (const b of this.#breakers.all()) {
      const state = b.state(now)
      for (const s of breakerStates) yield [[b.provider, b.key, s], s === state ? 1 : 0]
    }
  }

  *#perLimit(value: (l: ConcurrencyLimit) => number, withMode: boolean): Iterable<[string[], number]> {
    for (const l of this.#limits.all()) {
      yield [withMode ? [l.provider, l.key, l.adaptive ? 'adaptive' : 'fixed'] : [l.provider, l.key], value(l)]
    }
  }

  *#depths(): Iterable<[string[], number]> {
    for (const [model, pool] of this.#pools) {
      for (let p = 0 as Priority; p <= 3; p++) yield [[model, priorityNames[p]], pool.waitingAt(p)]
    }
  }

  *#perPacer(value: (p: KeyPacer, now: number) => number): Iterable<[string[], number]> {
    const now = this.clock.now()
    for (const p of this.#pacers.all()) yield [[p.provider, p.key, p.model ?? ''], value(p, now)]
  }

  *#states(): Iterable<[string[], number]> {
    const now = this.clock.now()
    for (const p of this.#pacers.all()) {
      const state = p.state(now)
      for (const s of pacerStates) yield [[p.provider, p.key, p.model ?? '', s], s === state ? 1 : 0]
    }
  }

  close(): void {
    this.leases?.close()
    this.#breakerMirror?.close()
    this.#unlisten()
    this.#wakeups.close()
  }
}

/**
 * What an attempt's end says about its key's health. A 429 is a pacing signal, a client 4xx
 * the client's fault and an abort nobody's: none is a verdict. 401/403 take the key out.
 */
function judge(a: ScheduledAttempt, now: number): void {
  const { breaker, trial } = a
  const status = a.upstreamStatus
  if ((status === 401 || status === 403) && !a.rejectedRequest) {
    breaker.released(now, trial)
    breaker.disable(now, 'auth')
    return
  }
  if (a.outcome === 'client_abort') return breaker.released(now, trial)
  const failure = healthFailure(status, a.failure)
  if (failure !== null) return breaker.failed(now, failure, trial)
  if (status >= 200 && status < 300 && a.outcome === 'success') return breaker.succeeded(now, trial)
  breaker.released(now, trial)
}

function healthFailure(status: number, failure: string | null): HealthFailure | null {
  // 529 is Anthropic's "overloaded": a pacing signal like a 429, not a broken key.
  if (status >= 500 && status !== 529) return 'http_5xx'
  switch (failure) {
    case 'connect':
      return 'connect'
    case 'reset':
      return 'reset'
    case 'connect_timeout': // no answer is not proof that nothing listens: a soft failure, unlike a refusal
    case 'first_byte_timeout':
    case 'idle_timeout':
    case 'total_timeout':
      return 'timeout'
    case 'invalid':
      return 'invalid'
    default:
      return null
  }
}

function describeBreaker(b: KeyBreaker, now: number) {
  return {
    id: b.id,
    provider: b.provider,
    key: b.key,
    state: b.state(now),
    consecutive_failures: b.consecutiveFailures,
    last_failure: b.lastFailureKind,
    reopens_in_ms: b.openUntil > now ? Math.round(b.openUntil - now) : null,
    disabled_reason: b.disabledReason,
    demoted_for_ms: b.demoted(now) ? Math.round(b.demotedUntil - now) : null,
  }
}

function describePacer(p: KeyPacer, now: number) {
  const finite = (v: number): number | null => (Number.isFinite(v) ? Math.round(v * 100) / 100 : null)
  return {
    id: p.id,
    provider: p.provider,
    key: p.key,
    model: p.model,
    state: p.state(now),
    in_flight: p.inflight,
    requests: {
      rate_rpm: finite(p.requests.rate(now)),
      configured_rpm: finite(p.requests.ceiling),
      learned_rpm: finite(p.requests.estimate),
      paused_for_ms: Math.max(0, Math.round(p.requests.pauseUntil - now)),
      ...describeLearning(p.requests, now),
    },
    tokens: {
      rate_tpm: finite(p.tokens.rate(now)),
      configured_tpm: finite(p.tokens.ceiling),
      learned_tpm: finite(p.tokens.estimate),
      paused_for_ms: Math.max(0, Math.round(p.tokens.pauseUntil - now)),
      ...describeLearning(p.tokens, now),
    },
    out_of_service_for_ms: Math.max(0, Math.round(p.disabledUntil - now)),
    upstream_429: { ...p.refusals },
    last_429_type: p.lastRefusalKind,
  }
}

/** What a pacer dimension knows of its upstream's window and how L̂ last moved (issue 14). */
function describeLearning(r: AdaptiveRate, now: number) {
  const boundary = r.window.boundaryAfter(now)
  const known = r.window.known
  return {
    fixed_window: known === null || boundary === null ? null : { next_boundary_in_ms: Math.round(boundary - now), uncertainty_ms: Math.round(known.uncertaintyMs) },
    estimate_from_low_demand: r.estimateFromLowDemand,
    recent_adjustments: r.history.map((h) => ({ ago_ms: Math.round(now - h.at), reason: h.reason, learned: Number.isFinite(h.estimate) ? Math.round(h.estimate * 100) / 100 : null })),
  }
}

function describeLimit(l: ConcurrencyLimit) {
  return {
    id: l.id,
    provider: l.provider,
    key: l.key,
    mode: l.adaptive ? 'adaptive' : 'fixed',
    effective_limit: l.effective,
    learned_limit: l.learned,
    learned_exact: Math.round(l.learnedExact * 1000) / 1000,
    accepted_level: l.acceptedLevel,
    in_flight: l.inflight,
    concurrent_429_count: l.concurrent429Count,
    last_429_type: l.last429Type,
  }
}
