import { systemClock, type Clock } from '../../core/clock.js'
import type { RateLimitKind } from '../../core/pacer/classify-429.js'
import type { ConcurrencyLimit } from '../../core/limit/concurrency-limit.js'
import { LimitRegistry } from '../../core/limit/registry.js'
import type { KeyPacer } from '../../core/pacer/key-pacer.js'
import type { PacerRegistry } from '../../core/pacer/registry.js'
import { priorityNames, type Priority } from '../../core/queue/index.js'
import type { Metrics } from '../../telemetry/metrics.js'
import { scheduleMetrics, type ScheduleMetrics } from './metrics.js'
import { Pool } from './pool.js'
import { Wakeups } from './wakeups.js'
import type { Waiter } from './waiter.js'

const pacerStates = ['steady', 'paused', 'retreating', 'recovering'] as const

export interface SchedulerOptions {
  readonly pacers: PacerRegistry
  readonly limits?: LimitRegistry
  readonly metrics?: Metrics | null
  readonly clock?: Clock
  /** Wall-clock epoch ms, for what the concurrency limits record and persist. */
  readonly epoch?: Clock
}

const systemEpoch: Clock = { now: () => Date.now() }

/**
 * The long-lived side of scheduling: one pool per model and one wake-up timer per key. It
 * outlives config generations, so a reload keeps every waiting request and everything learned.
 */
export class Scheduler {
  readonly clock: Clock
  readonly epoch: Clock
  readonly #pools = new Map<string, Pool>()
  readonly #wakeups: Wakeups
  readonly #metrics: ScheduleMetrics
  readonly #pacers: PacerRegistry
  readonly #limits: LimitRegistry

  constructor(opts: SchedulerOptions) {
    this.clock = opts.clock ?? systemClock
    this.epoch = opts.epoch ?? systemEpoch
    this.#limits = opts.limits ?? new LimitRegistry()
    this.#wakeups = new Wakeups(this.clock)
    this.#metrics = scheduleMetrics(opts.metrics ?? null)
    this.#pacers = opts.pacers
    if (opts.metrics) this.#publish(opts.metrics)
  }

  pool(model: string): Pool {
    let pool = this.#pools.get(model)
    if (!pool) this.#pools.set(model, (pool = new Pool(model, this.clock, this.#wakeups, this.#metrics)))
    return pool
  }

  readonly onRefusal = (w: Waiter, kind: RateLimitKind): void => {
    if (w.pacer) this.#metrics.refusal(w.pacer, kind)
  }

  /** The attempt `w` was given ended: tell its key's pacer how, exactly once per dispatch. */
  settle(pool: Pool, w: Waiter): void {
    const limit = w.limit
    if (limit !== null) {
      w.limit = null
      const status = w.ctx.upstreamStatus
      // In flight counted before the release: this request was one of them when it succeeded. A
      // 2xx whose stream broke or whose client left is no evidence the key had room to spare.
      if (status >= 200 && status < 300 && w.ctx.outcome === 'success') {
        const now = this.epoch.now()
        limit.noteAccepted(now, w.permitsAtDispatch)
        limit.succeeded(now, limit.inflight)
      }
      limit.release()
      this.#wakeups.poke(limit)
    }
    const pacer = w.pacer
    if (pacer === null) return
    w.pacer = null
    const ctx = w.ctx
    const now = this.clock.now()
    const usage = ctx.usage
    const used = usage !== null && usage.promptTokens !== null ? usage.promptTokens + (usage.completionTokens ?? 0) : null
    pacer.settled(now, { dispatchedAt: w.dispatchedAt, status: ctx.upstreamStatus, tokensCharged: w.tokens, tokensUsed: used })
    if (ctx.upstreamStatus === 529) {
      pacer.refused(now, w.dispatchedAt, 'overload', w.snapshot)
      this.#metrics.refusal(pacer, 'overload')
    }
    if (used !== null) {
      // Fairness is charged for what the consumer really used, output counted twice.
      const completion = usage?.completionTokens ?? 0
      pool.queue.adjustCounter(w.consumer, w.priority, used + completion - w.cost, w.weight)
    }
    this.#wakeups.poke(pacer)
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
      for (let p = 0 as Priority; p <= 3; p++) byPriority[priorityNames[p]] = pool.queue.sizeOf(p)
      queues[model] = { waiting: pool.waiting, by_priority: byPriority, bypassing: pool.bypass.size }
    }
    const pacers = [...this.#pacers.all()].map((p) => describePacer(p, now))
    const concurrency = [...this.#limits.all()].map(describeLimit)
    return { queues, pacers, concurrency }
  }

  #publish(metrics: Metrics): void {
    metrics.queueDepth.read = () => this.#depths()
    metrics.pacerRate.read = () => this.#perPacer((p, now) => p.requests.rate(now))
    metrics.pacerLimit.read = () => this.#perPacer((p) => Math.min(p.requests.ceiling, p.requests.estimate))
    metrics.pacerTokenRate.read = () => this.#perPacer((p, now) => p.tokens.rate(now))
    metrics.pacerState.read = () => this.#states()
    metrics.concurrencyLimit.read = () => this.#perLimit((l) => l.effective, true)
    metrics.concurrencyInFlight.read = () => this.#perLimit((l) => l.inflight, false)
  }

  *#perLimit(value: (l: ConcurrencyLimit) => number, withMode: boolean): Iterable<[string[], number]> {
    for (const l of this.#limits.all()) {
      yield [withMode ? [l.provider, l.key, l.adaptive ? 'adaptive' : 'fixed'] : [l.provider, l.key], value(l)]
    }
  }

  *#depths(): Iterable<[string[], number]> {
    for (const [model, pool] of this.#pools) {
      for (let p = 0 as Priority; p <= 3; p++) yield [[model, priorityNames[p]], pool.queue.sizeOf(p)]
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
    this.#wakeups.close()
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
    },
    tokens: {
      rate_tpm: finite(p.tokens.rate(now)),
      configured_tpm: finite(p.tokens.ceiling),
      learned_tpm: finite(p.tokens.estimate),
      paused_for_ms: Math.max(0, Math.round(p.tokens.pauseUntil - now)),
    },
    out_of_service_for_ms: Math.max(0, Math.round(p.disabledUntil - now)),
    upstream_429: { ...p.refusals },
    last_429_type: p.lastRefusalKind,
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
