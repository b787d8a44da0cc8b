import type { Dispatcher } from 'undici'
import { Agent } from '../config/dispatchers.js'
import { exchange } from './exchange.js'
import { parseVllmMetrics } from './prometheus.js'
import { systemTimers, type Clock, type TimerHandle, type Timers } from '../core/clock.js'

/** A vLLM server's load as of its last good scrape. */
export interface VllmLoad {
  /** Requests queued inside the server (vllm:num_requests_waiting, summed over models). */
  readonly waiting: number
  /** Requests running on the server, from every client (vllm:num_requests_running). */
  readonly running: number
  /** KV-cache use 0..1, or null when the server does not report it. */
  readonly kvCache: number | null
  /** Clock time of the scrape. */
  readonly at: number
}

export interface VllmMetricsOptions {
  readonly clock: Clock
  /** Time between two scrapes of one origin. Default 2 s. */
  readonly intervalMs?: number
  /** Longest a scrape may take. Default: the interval, so scrapes of one origin never overlap. */
  readonly timeoutMs?: number
  /** The dispatcher for an origin (main.ts hands in the upstream pools); default one private Agent. */
  readonly dispatcher?: (origin: string) => Dispatcher
  readonly timers?: Timers
  /** Told after every scrape whether it produced a load (metrics, logs; tests wait on it). */
  readonly onScrape?: (origin: string, ok: boolean) => void
}

/** A load older than this many intervals is not used: the server may have changed completely. */
export const staleAfterIntervals = 3
/** vLLM's page with every histogram of several models is a few hundred KiB. */
const maxMetricsBody = 8 * 1024 * 1024

class Scrape {
  timer: TimerHandle | null = null
  abort: AbortController | null = null
  /** The running scrape's timeout. */
  deadline: TimerHandle | null = null
  load: VllmLoad | null = null

  constructor(
    readonly dispatcher: Dispatcher,
    /** scheme://host:port of the server. */
    readonly origin: string,
    /** /metrics under the base URL's path prefix, if it has one (a reverse proxy). */
    readonly path: string,
  ) {}
}

/**
 * Scrapes the Prometheus page of self-hosted vLLM servers for the `metrics` balancing
 * strategy: requests waiting, requests running, KV-cache use. One setTimeout chain per origin
 * (the next scrape one interval after the last one started, never two at once); the load of
 * the last good scrape is kept, and read by `load()` until it is three intervals old. A failed
 * scrape changes nothing, so a brief hiccup does not blind the balancer, and a server that
 * stops answering soon looks like one without metrics.
 */
export class VllmMetricsScraper {
  readonly #clock: Clock
  readonly #intervalMs: number
  readonly #timeoutMs: number
  readonly #timers: Timers
  readonly #dispatcherFor: (origin: string) => Dispatcher
  readonly #onScrape: ((origin: string, ok: boolean) => void) | null
  #agent: Agent | null = null
  #scrapes = new Map<string, Scrape>()
  #closed = false

  constructor(opts: VllmMetricsOptions) {
    this.#clock = opts.clock
    this.#intervalMs = opts.intervalMs ?? 2_000
    this.#timeoutMs = opts.timeoutMs ?? this.#intervalMs
    this.#timers = opts.timers ?? systemTimers
    if (!(this.#intervalMs > 0)) throw new RangeError(`scrape interval must be positive, got ${this.#intervalMs}`)
    this.#dispatcherFor = opts.dispatcher ?? (() => (this.#agent ??= new Agent({ connections: 2 })))
    this.#onScrape = opts.onScrape ?? null
  }

  /**
   * The servers to watch, as base URLs (`http://10.0.0.5:8000`, or with a path prefix the
   * metrics page lives under). Origins that stay keep their chain and their last load; new
   * ones are scraped at once.
   */
  setOrigins(origins: Iterable<string>): void {
    if (this.#closed) return
    const next = new Map<string, Scrape>()
    const fresh: [string, Scrape][] = []
    for (const origin of origins) {
      if (next.has(origin)) continue
      const kept = this.#scrapes.get(origin)
      if (kept !== undefined) {
        next.set(origin, kept)
        continue
      }
      // Parsed before anything starts, so a bad URL throws with nothing half applied.
      const url = new URL(origin)
      const scrape = new Scrape(this.#dispatcherFor(url.origin), url.origin, `${url.pathname.replace(/\/+$/, '')}/metrics`)
      next.set(origin, scrape)
      fresh.push([origin, scrape])
    }
    for (const [origin, scrape] of this.#scrapes) if (!next.has(origin)) stop(this.#timers, scrape)
    this.#scrapes = next
    for (const [origin, scrape] of fresh) this.#run(origin, scrape)
  }

  /** The server's load, or null when it was never scraped or the last good scrape is stale. */
  load(origin: string): VllmLoad | null {
    const load = this.#scrapes.get(origin)?.load ?? null
    if (load === null || this.#clock.now() - load.at > staleAfterIntervals * this.#intervalMs) return null
    return load
  }

  /** Stops every chain and aborts scrapes in flight. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    for (const scrape of this.#scrapes.values()) stop(this.#timers, scrape)
    this.#scrapes.clear()
    const agent = this.#agent
    this.#agent = null
    void agent?.destroy().catch(() => undefined)
  }

  #run(origin: string, scrape: Scrape): void {
    scrape.timer = null
    const startedAt = this.#clock.now()
    const ac = new AbortController()
    scrape.abort = ac
    scrape.deadline = this.#timers.setTimeout(() => ac.abort(), this.#timeoutMs)
    const req = { dispatcher: scrape.dispatcher, origin: scrape.origin, method: 'GET', path: scrape.path, headers: [], body: null } as const
    exchange(req, ac.signal, maxMetricsBody)
      .then((res) => {
        if (res.status !== 200 || res.body === null) return false
        const g = parseVllmMetrics(res.body.toString('utf8'))
        // A page without the request gauges is not a vLLM server's (or not yet one's).
        if (g.waiting === null && g.running === null) return false
        scrape.load = { waiting: g.waiting ?? 0, running: g.running ?? 0, kvCache: g.kvCache, at: this.#clock.now() }
        return true
      }, () => false)
      .then((ok) => {
        if (scrape.deadline !== null) this.#timers.clearTimeout(scrape.deadline)
        scrape.deadline = null
        scrape.abort = null
        if (this.#closed || this.#scrapes.get(origin) !== scrape) return
        const wait = Math.max(0, startedAt + this.#intervalMs - this.#clock.now())
        scrape.timer = this.#timers.setTimeout(() => this.#run(origin, scrape), Math.ceil(wait))
        this.#onScrape?.(origin, ok)
      })
      // Only a throwing onScrape lands here; the chain is already re-armed.
      .catch(() => undefined)
  }
}

function stop(timers: Timers, scrape: Scrape): void {
  if (scrape.timer !== null) timers.clearTimeout(scrape.timer)
  if (scrape.deadline !== null) timers.clearTimeout(scrape.deadline)
  scrape.timer = null
  scrape.deadline = null
  scrape.abort?.abort()
}
