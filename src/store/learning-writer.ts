import { systemTimers, type TimerHandle, type Timers } from '../core/clock.js'
import type { LimitRegistry } from '../core/limit/registry.js'
import type { KeyLearningStore } from './types.js'

export interface LearningWriterOptions {
  /** How long changes gather before one batch is written. */
  readonly delayMs?: number
  readonly onError?: (err: unknown) => void
  /** Default: Node's, unref'd (close() is what flushes). */
  readonly timers?: Timers
}

/**
 * Writes what the concurrency limits learn to the store, off the request path: a change arms
 * one timer, and everything changed by the time it fires goes in one transaction. Nothing is
 * written while nothing changes, and a failed write is tried again with the next batch.
 */
export class LearningWriter {
  readonly #delayMs: number
  readonly #onError: (err: unknown) => void
  readonly #timers: Timers
  #timer: TimerHandle | null = null
  #writing: Promise<void> = Promise.resolve()
  #closed = false
  /** Failed writes in a row: the retry waits longer each time, up to a minute. */
  #failures = 0

  constructor(
    private readonly registry: LimitRegistry,
    private readonly store: KeyLearningStore,
    opts: LearningWriterOptions = {},
  ) {
    this.#delayMs = opts.delayMs ?? 1_000
    this.#onError = opts.onError ?? (() => undefined)
    this.#timers = opts.timers ?? systemTimers
    registry.onChange = () => this.#arm()
    // Restoring at start may already have changed something (an override the file has since
    // overruled, keys never stored): store it soon rather than at the next change.
    this.#arm()
  }

  /** Writes every pending change now; resolves once it is stored (or the write failed and was reported). */
  flush(): Promise<void> {
    if (this.#timer !== null) this.#timers.clearTimeout(this.#timer)
    this.#timer = null
    const write = this.#writing.then(() => this.#write())
    this.#writing = write
    return write
  }

  /** Writes what is pending and stops listening for changes. */
  async close(): Promise<void> {
    this.#closed = true
    this.registry.onChange = null
    await this.flush()
  }

  #arm(): void {
    if (this.#timer !== null || this.#closed) return
    const delay = Math.min(60_000, this.#delayMs * 2 ** this.#failures)
    this.#timer = this.#timers.setTimeout(() => void this.flush(), delay)
  }

  async #write(): Promise<void> {
    const records = this.registry.takeChanged()
    if (records.length === 0) return
    try {
      await this.store.saveAll(records)
      this.#failures = 0
    } catch (err) {
      this.#failures = Math.min(this.#failures + 1, 16)
      for (const r of records) this.registry.unsaved(r.id)
      this.#onError(err)
      if (!this.#closed) this.#arm()
    }
  }
}
