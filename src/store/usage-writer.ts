import { systemTimers, type Timers } from '../core/clock.js'
import type { UsageRecord, UsageStore } from './types.js'

export interface UsageWriterOptions {
  /** Records held at most, the batch being written included; past it a record is dropped and counted. */
  readonly capacity?: number
  /** Records per write; this many pending start a write at once, without waiting for the timer. */
  readonly batchSize?: number
  /** How long records gather before a write. */
  readonly delayMs?: number
  /** The longest wait between tries after failed writes (the wait doubles from delayMs). */
  readonly maxDelayMs?: number
  /** Tries close() makes when the database refuses, `closeRetryDelayMs` apart, before giving up. */
  readonly closeAttempts?: number
  readonly closeRetryDelayMs?: number
  /** Called once per dropped record: for a counter such as sluice_usage_records_dropped_total. */
  readonly onDrop?: () => void
  /** A failed write; its records are kept and tried again. */
  readonly onError?: (err: unknown) => void
  /** A batch was stored: the database answers. */
  readonly onWritten?: () => void
  readonly timers?: Timers
  /** Epoch milliseconds, for prune(). */
  readonly clock?: () => number
}

/**
 * The usage ledger's way into the database, off the request path. record() only pushes onto a
 * bounded buffer; one batch at a time goes out in a transaction, every `delayMs` or as soon as
 * `batchSize` have gathered. A failed batch goes back to the front of the buffer and is tried
 * again after a doubling wait (up to `maxDelayMs`), so nothing is lost while the database
 * recovers — the capacity counts the batch in flight, so the failed batch always fits, and it
 * is the newest records that are dropped when the buffer is full. close() writes what is left.
 */
export class UsageWriter {
  readonly #store: Pick<UsageStore, 'appendBatch' | 'prune'>
  readonly #capacity: number
  readonly #batchSize: number
  readonly #delayMs: number
  readonly #maxDelayMs: number
  readonly #closeAttempts: number
  readonly #closeRetryDelayMs: number
  readonly #onDrop: () => void
  readonly #onError: (err: unknown) => void
  readonly #onWritten: () => void
  readonly #timers: Timers
  readonly #clock: () => number
  #queue: UsageRecord[] = []
  /** Records in the batch being written. */
  #inflight = 0
  /** The write in progress; resolves true when it was stored. Never rejects. */
  #writing: Promise<boolean> | null = null
  #timer: unknown = null
  /** Whether the armed timer is the "batch is full" one (0 ms) rather than the gathering delay. */
  #timerIsImmediate = false
  /** Failed writes in a row. */
  #failures = 0
  #closing = false
  #closed = false
  #dropped = 0
  #written = 0

  constructor(store: Pick<UsageStore, 'appendBatch' | 'prune'>, opts: UsageWriterOptions = {}) {
    this.#store = store
    this.#capacity = Math.max(1, opts.capacity ?? 10_000)
    this.#batchSize = Math.max(1, opts.batchSize ?? 500)
    this.#delayMs = opts.delayMs ?? 1_000
    this.#maxDelayMs = opts.maxDelayMs ?? 60_000
    this.#closeAttempts = opts.closeAttempts ?? 3
    this.#closeRetryDelayMs = opts.closeRetryDelayMs ?? 100
    this.#onDrop = opts.onDrop ?? (() => undefined)
    this.#onError = opts.onError ?? (() => undefined)
    this.#onWritten = opts.onWritten ?? (() => undefined)
    this.#timers = opts.timers ?? systemTimers
    this.#clock = opts.clock ?? Date.now
  }

  /** Records dropped: the buffer was full, or close() could not write them. Should stay 0. */
  get dropped(): number {
    return this.#dropped
  }

  /** Records stored. */
  get written(): number {
    return this.#written
  }

  /** Records held at most. */
  get capacity(): number {
    return this.#capacity
  }

  /** Records held, the batch being written included. */
  get pending(): number {
    return this.#queue.length + this.#inflight
  }

  /** O(1); never throws, never waits, never touches the database itself. */
  record(r: UsageRecord): void {
    if (this.#closed || this.#queue.length + this.#inflight >= this.#capacity) {
      this.#drop(1)
      return
    }
    this.#queue.push(r)
    this.#schedule()
  }

  /**
   * Writes everything pending, a batch at a time; resolves when it is all stored or a write
   * failed (those records stay for the next try). Never rejects.
   */
  async flush(): Promise<void> {
    this.#clearTimer()
    for (;;) {
      const ok = await (this.#writing ?? this.#writeBatch())
      if (!ok || this.pending === 0) return
    }
  }

  /**
   * Flushes, trying again a few times if the database refuses, then stops: records that come
   * later, and any that could not be written, are dropped and counted. For shutdown, after the
   * last request has finished and before the store closes.
   */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closing = true
    this.#clearTimer()
    for (let attempt = 0; attempt < this.#closeAttempts; attempt++) {
      if (attempt > 0) await this.#sleep(this.#closeRetryDelayMs)
      await this.flush()
      if (this.pending === 0) break
    }
    if (this.#writing !== null) await this.#writing
    // Nothing awaits between here and the end, so no record slips in unwritten.
    this.#closed = true
    this.#clearTimer()
    const left = this.#queue.length
    this.#queue = []
    this.#drop(left)
  }

  /**
   * Deletes records older than `retentionMs` (0 or less keeps everything); resolves to how
   * many. For whoever owns the schedule (hourly is plenty); rejects when the database does.
   */
  prune(retentionMs: number): Promise<number> {
    if (!(retentionMs > 0)) return Promise.resolve(0)
    return this.#store.prune(this.#clock() - retentionMs)
  }

  #schedule(): void {
    // A write in progress schedules the next when it ends; close() writes everything itself.
    if (this.#writing !== null || this.#closing || this.#queue.length === 0) return
    const immediate = this.#failures === 0 && this.#queue.length >= this.#batchSize
    if (this.#timer !== null) {
      if (!immediate || this.#timerIsImmediate) return
      this.#clearTimer()
    }
    const delay = immediate ? 0 : Math.min(this.#maxDelayMs, this.#delayMs * 2 ** this.#failures)
    this.#timerIsImmediate = immediate
    this.#timer = this.#timers.setTimeout(() => {
      this.#timer = null
      void this.#writeBatch()
    }, delay)
  }

  #writeBatch(): Promise<boolean> {
    if (this.#writing !== null) return this.#writing
    this.#clearTimer()
    const batch = this.#queue.splice(0, this.#batchSize)
    if (batch.length === 0) return Promise.resolve(true)
    this.#inflight = batch.length
    // Started from a resolved promise, so even an adapter that throws synchronously ends up in
    // the failure branch, and #writing is set before the write can end.
    const writing = Promise.resolve()
      .then(() => this.#store.appendBatch(batch))
      .then(
        () => {
          this.#failures = 0
          this.#written += batch.length
          this.#notify(this.#onWritten)
          return true
        },
        (err: unknown) => {
          this.#failures = Math.min(this.#failures + 1, 30)
          // Back to the front, in order: the capacity counted them, so they fit.
          this.#queue.unshift(...batch)
          this.#report(err)
          return false
        },
      )
      .then((ok) => {
        this.#inflight = 0
        this.#writing = null
        this.#schedule()
        return ok
      })
    this.#writing = writing
    return writing
  }

  #drop(n: number): void {
    if (n <= 0) return
    this.#dropped += n
    for (let i = 0; i < n; i++) {
      try {
        this.#onDrop()
      } catch {
        // A metric that throws must not take the request path down with it.
      }
    }
  }

  #report(err: unknown): void {
    try {
      this.#onError(err)
    } catch {
      // As in #drop: reporting is best effort.
    }
  }

  #notify(fn: () => void): void {
    try {
      fn()
    } catch {
      // As in #drop.
    }
  }

  #clearTimer(): void {
    if (this.#timer === null) return
    this.#timers.clearTimeout(this.#timer)
    this.#timer = null
  }

  #sleep(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve()
    return new Promise((resolve) => this.#timers.setTimeout(resolve, ms))
  }
}
