import type { RequestContext } from '../context.js'
import { every, systemTimers, type Timers } from '../core/clock.js'

// What the dashboard's charts show for the last hour, kept in memory in fixed-size rings.
// Requests feed plain counters (a few additions, no allocation once a model or key has been
// seen); a sampler folds them, and the gauges it reads, into the rings every `intervalMs`.

/** Upper bounds (ms) of the latency buckets; percentiles are read off these, to the bucket. */
const bucketBoundsMs = [
  1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 70, 100, 150, 200, 300, 500, 700, 1_000, 1_500, 2_000, 3_000, 5_000, 7_000, 10_000, 15_000, 20_000,
  30_000, 60_000, 120_000, 300_000,
]

export const historyDefaults = {
  /** One point every 5 s… */
  intervalMs: 5_000,
  /** …for an hour. */
  points: 720,
} as const

/** A fixed-size latency histogram for one sampling interval. */
class Buckets {
  readonly counts = new Uint32Array(bucketBoundsMs.length + 1)
  total = 0
  add(ms: number): void {
    let i = 0
    while (i < bucketBoundsMs.length && ms > (bucketBoundsMs[i] as number)) i++
    this.counts[i]!++
    this.total++
  }
  /** The upper bound of the bucket holding quantile `q`; null with no samples. */
  quantile(q: number): number | null {
    if (this.total === 0) return null
    const rank = Math.ceil(q * this.total)
    let seen = 0
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i] as number
      if (seen >= rank) return bucketBoundsMs[i] ?? (bucketBoundsMs.at(-1) as number)
    }
    return null
  }
  clear(): void {
    this.counts.fill(0)
    this.total = 0
  }
}

/** Per model route: totals since start, and latency buckets of the running interval. */
export class ModelLive {
  requests = 0
  errors = 0
  readonly errorsByCode = new Map<string, number>()
  readonly wait = new Buckets()
  readonly latency = new Buckets()
  readonly ttft = new Buckets()
}

/** Per upstream key: requests sent with it since start. */
export class KeyLive {
  requests = 0
  errors = 0
}

/** A ring of `points` numbers; NaN where nothing was sampled. */
export class Ring {
  readonly values: Float64Array
  constructor(points: number) {
    this.values = new Float64Array(points).fill(NaN)
  }
}

export const modelSeries = ['rps', 'errors_per_s', 'queue_urgent', 'queue_high', 'queue_normal', 'queue_low', 'wait_p50_ms', 'wait_p99_ms', 'latency_p50_ms', 'latency_p99_ms', 'ttft_p50_ms'] as const
export const keySeries = ['rps', 'r429_per_s', 'rate_rpm', 'limit_rpm', 'concurrency_limit', 'learned_limit', 'in_flight'] as const
export type ModelSeries = (typeof modelSeries)[number]
export type KeySeries = (typeof keySeries)[number]

/** What the sampler reads besides the counters: the gauges of the schedule, by key id (`provider~key`). */
export interface GaugeReader {
  /** [model, priority name] → requests waiting. */
  queueDepths(): Iterable<readonly [readonly string[], number]>
  /** Each key's totals: upstream 429s so far, paced rate and limit (rpm), concurrency limit, learned limit, permits held. */
  keys(): Iterable<{ readonly id: string; readonly r429: number; readonly rateRpm: number; readonly limitRpm: number; readonly limit: number; readonly learned: number; readonly inFlight: number }>
}

interface Tracked<S extends string> {
  readonly rings: Record<S, Ring>
  prevRequests: number
  prevErrors: number
}

export class History {
  readonly intervalMs: number
  readonly points: number
  readonly models = new Map<string, ModelLive>()
  /** provider id → key id → counters: two lookups and no string built per request. */
  readonly #keys = new Map<string, Map<string, KeyLive>>()
  /** Epoch ms of each point, in the same ring positions as every series. */
  readonly times: Ring
  readonly #modelRings = new Map<string, Tracked<ModelSeries>>()
  readonly #keyRings = new Map<string, Tracked<KeySeries> & { prev429: number }>()
  #next = 0
  #count = 0
  #stopTimer: (() => void) | null = null

  constructor(opts: { intervalMs?: number; points?: number } = {}) {
    this.intervalMs = opts.intervalMs ?? historyDefaults.intervalMs
    this.points = opts.points ?? historyDefaults.points
    this.times = new Ring(this.points)
  }

  /** Called once per finished request (from the observe stage's onFinished). */
  record(ctx: RequestContext, endedAt: number): void {
    const name = ctx.servingRoute?.name
    if (name !== undefined) {
      let m = this.models.get(name)
      if (!m) this.models.set(name, (m = new ModelLive()))
      m.requests++
      if (ctx.outcome !== 'success') {
        m.errors++
        const code = ctx.errorCode ?? ctx.outcome
        m.errorsByCode.set(code, (m.errorsByCode.get(code) ?? 0) + 1)
      }
      if (ctx.queuedMs > 0 || ctx.upstreamStartedAt > 0) m.wait.add(ctx.queuedMs)
      if (ctx.outcome === 'success') m.latency.add(endedAt - ctx.startedAt)
      if (ctx.upstreamFirstByteAt > 0) m.ttft.add(ctx.upstreamFirstByteAt - ctx.upstreamStartedAt)
    }
    const provider = ctx.provider
    const key = ctx.key
    if (provider && key && ctx.upstreamStartedAt > 0) {
      let byKey = this.#keys.get(provider.id)
      if (!byKey) this.#keys.set(provider.id, (byKey = new Map()))
      let k = byKey.get(key.id)
      if (!k) byKey.set(key.id, (k = new KeyLive()))
      k.requests++
      if (ctx.outcome !== 'success' && ctx.outcome !== 'client_abort') k.errors++
    }
  }

  /** Counters of one key, by its admin id `provider~key`. */
  keyLive(id: string): KeyLive | undefined {
    const at = id.indexOf('~')
    return this.#keys.get(id.slice(0, at))?.get(id.slice(at + 1))
  }

  /** Samples every `intervalMs` until stop(). */
  start(gauges: GaugeReader, epoch: () => number, timers: Timers = systemTimers): void {
    this.#stopTimer ??= every(timers, this.intervalMs, () => this.sample(gauges, epoch()))
  }

  stop(): void {
    this.#stopTimer?.()
    this.#stopTimer = null
  }

  /** Folds the counters since the last sample and the gauges now into one new point. */
  sample(gauges: GaugeReader, at: number): void {
    const i = this.#next
    this.#next = (i + 1) % this.points
    this.#count = Math.min(this.#count + 1, this.points)
    this.times.values[i] = at
    const perSecond = 1000 / this.intervalMs
    for (const t of this.#modelRings.values()) for (const s of modelSeries) t.rings[s].values[i] = NaN
    for (const t of this.#keyRings.values()) for (const s of keySeries) t.rings[s].values[i] = NaN

    for (const [name, m] of this.models) {
      const t = this.#trackModel(name)
      t.rings.rps.values[i] = (m.requests - t.prevRequests) * perSecond
      t.rings.errors_per_s.values[i] = (m.errors - t.prevErrors) * perSecond
      t.prevRequests = m.requests
      t.prevErrors = m.errors
      t.rings.wait_p50_ms.values[i] = m.wait.quantile(0.5) ?? NaN
      t.rings.wait_p99_ms.values[i] = m.wait.quantile(0.99) ?? NaN
      t.rings.latency_p50_ms.values[i] = m.latency.quantile(0.5) ?? NaN
      t.rings.latency_p99_ms.values[i] = m.latency.quantile(0.99) ?? NaN
      t.rings.ttft_p50_ms.values[i] = m.ttft.quantile(0.5) ?? NaN
      m.wait.clear()
      m.latency.clear()
      m.ttft.clear()
    }
    for (const [labels, depth] of gauges.queueDepths()) {
      const [model, priority] = labels as [string, string]
      const series = `queue_${priority}` as ModelSeries
      const ring = this.#trackModel(model).rings[series]
      if (ring) ring.values[i] = depth
    }
    for (const g of gauges.keys()) {
      let t = this.#keyRings.get(g.id)
      if (!t) this.#keyRings.set(g.id, (t = { rings: rings(keySeries, this.points), prevRequests: 0, prevErrors: 0, prev429: g.r429 }))
      const live = this.keyLive(g.id)
      const requests = live?.requests ?? 0
      t.rings.rps.values[i] = (requests - t.prevRequests) * perSecond
      t.prevRequests = requests
      t.rings.r429_per_s.values[i] = (g.r429 - t.prev429) * perSecond
      t.prev429 = g.r429
      t.rings.rate_rpm.values[i] = finite(g.rateRpm)
      t.rings.limit_rpm.values[i] = finite(g.limitRpm)
      t.rings.concurrency_limit.values[i] = g.limit
      t.rings.learned_limit.values[i] = g.learned
      t.rings.in_flight.values[i] = g.inFlight
    }
  }

  /** Every point of the last hour, oldest first; null where nothing was sampled. */
  snapshot(): { interval_ms: number; times: number[]; models: Record<string, Record<string, (number | null)[]>>; keys: Record<string, Record<string, (number | null)[]>> } {
    const order = this.#order()
    const read = (r: Ring): (number | null)[] => order.map((j) => nullable(r.values[j] as number))
    const models: Record<string, Record<string, (number | null)[]>> = {}
    for (const [name, t] of this.#modelRings) models[name] = Object.fromEntries(modelSeries.map((s) => [s, read(t.rings[s])]))
    const keys: Record<string, Record<string, (number | null)[]>> = {}
    for (const [id, t] of this.#keyRings) keys[id] = Object.fromEntries(keySeries.map((s) => [s, read(t.rings[s])]))
    return { interval_ms: this.intervalMs, times: read(this.times) as number[], models, keys }
  }

  /** The newest point only, for the live stream; null before the first sample. */
  latest(): { time: number; models: Record<string, Record<string, number | null>>; keys: Record<string, Record<string, number | null>> } | null {
    if (this.#count === 0) return null
    const j = (this.#next - 1 + this.points) % this.points
    const pick = <S extends string>(t: Tracked<S>, names: readonly S[]) => Object.fromEntries(names.map((s) => [s, nullable(t.rings[s].values[j] as number)]))
    const models: Record<string, Record<string, number | null>> = {}
    for (const [name, t] of this.#modelRings) models[name] = pick(t, modelSeries)
    const keys: Record<string, Record<string, number | null>> = {}
    for (const [id, t] of this.#keyRings) keys[id] = pick(t, keySeries)
    return { time: this.times.values[j] as number, models, keys }
  }

  #order(): number[] {
    const start = this.#count < this.points ? 0 : this.#next
    return Array.from({ length: this.#count }, (_, k) => (start + k) % this.points)
  }

  #trackModel(name: string): Tracked<ModelSeries> {
    let t = this.#modelRings.get(name)
    if (!t) this.#modelRings.set(name, (t = { rings: rings(modelSeries, this.points), prevRequests: 0, prevErrors: 0 }))
    return t
  }
}

function rings<S extends string>(names: readonly S[], points: number): Record<S, Ring> {
  return Object.fromEntries(names.map((s) => [s, new Ring(points)])) as Record<S, Ring>
}

function finite(v: number): number {
  return Number.isFinite(v) ? v : NaN
}

function nullable(v: number): number | null {
  return Number.isNaN(v) ? null : Math.round(v * 100) / 100
}
