import { systemTimers, type Timers } from '../core/clock.js'

export interface AvailabilityOptions {
  /** A cheap query that succeeds when the database answers; run only while it is thought down. */
  readonly probe: () => Promise<unknown>
  /** Time between probes while the database is down. Default 5 s. */
  readonly probeEveryMs?: number
  /** The database answered again after failing: e.g. flush what was buffered now rather than at the writer's next try. */
  readonly onRecovered?: () => void
  /** It failed after answering: e.g. log it once. */
  readonly onLost?: (err: unknown) => void
  readonly timers?: Timers
}

/**
 * Whether the database answered the last time sluice asked it anything — key lookups, usage
 * writes — for readiness (`degraded: "database"`) and the metrics. Its users report each
 * answer and failure; nothing polls while it answers. Once it fails, a probe runs every few
 * seconds until one passes, so an idle gateway finds out it is back too.
 */
export class DatabaseAvailability {
  readonly #probe: () => Promise<unknown>
  readonly #probeEveryMs: number
  readonly #onRecovered: () => void
  readonly #onLost: (err: unknown) => void
  readonly #timers: Timers
  #reachable = true
  #timer: unknown = null
  #closed = false

  constructor(opts: AvailabilityOptions) {
    this.#probe = opts.probe
    this.#probeEveryMs = opts.probeEveryMs ?? 5_000
    this.#onRecovered = opts.onRecovered ?? (() => undefined)
    this.#onLost = opts.onLost ?? (() => undefined)
    this.#timers = opts.timers ?? systemTimers
  }

  get reachable(): boolean {
    return this.#reachable
  }

  /** The database answered (any query). */
  answered(): void {
    if (this.#reachable) return
    this.#reachable = true
    this.#clearTimer()
    this.#onRecovered()
  }

  /** A query failed to reach the database, or it refused it. */
  failed(err: unknown): void {
    if (this.#reachable) {
      this.#reachable = false
      this.#onLost(err)
    }
    this.#arm()
  }

  close(): void {
    this.#closed = true
    this.#clearTimer()
  }

  #arm(): void {
    if (this.#timer !== null || this.#closed) return
    this.#timer = this.#timers.setTimeout(() => {
      this.#timer = null
      if (this.#reachable || this.#closed) return
      this.#probe().then(
        () => this.answered(),
        (err: unknown) => this.failed(err),
      )
    }, this.#probeEveryMs)
  }

  #clearTimer(): void {
    if (this.#timer === null) return
    this.#timers.clearTimeout(this.#timer)
    this.#timer = null
  }
}
