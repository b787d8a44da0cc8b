import type { UsageRecord, UsageStore } from './types.js'

export interface UsageWriterOptions {
  /** Records held while the database catches up; past it a record is dropped and counted. */
  readonly capacity?: number
  /** Pending records that start a write at once, without waiting for the timer. */
  readonly batchSize?: number
  /** How long records gather before a write. */
  readonly delayMs?: number
  readonly onDrop?: () => void
  readonly onError?: (err: unknown) => void
}

/**
 * The usage ledger's way into the database, off the request path: record() only pushes onto a
 * bounded buffer; one batch at a time goes out in a transaction, every second or once enough
 * have gathered. A failed batch is kept and tried again (backing off to a minute) while the
 * buffer has room; close() writes everything left.
 */
export class UsageWriter {
  readonly #capacity: number
  readonly #batchSize: number
  readonly #delayMs: number
  readonly #onDrop: () => void
  readonly #onError: (err: unknown) => void
  #pending: UsageRecord[] = []
  #timer: NodeJS.Timeout | null = null
  #writing: Promise<void> | null = null
  #failures = 0
  #dropped = 0
  #written = 0

  constructor(
    private readonly store: UsageStore,
    opts: UsageWriterOptions = {},
  ) {
    this.#capacity = opts.capacity ?? 10_000
    this.#batchSize = opts.batchSize ?? 500
    this.#delayMs = opts.delayMs ?? 1_000
    this.#onDrop = opts.onDrop ?? (() => undefined)
    this.#onError = opts.onError ?? (() => undefined)
  }

  /** Records dropped because the buffer was full (should stay 0). */
  get dropped(): number {
    return this.#dropped
  }

  get written(): number {
    return this.#written
  }

  get pending(): number {
    return this.#pending.length
  }

  /** O(1), never throws, never waits. */
  record(r: UsageRecord): void {
    if (this.#pending.length >= this.#capacity) {
      this.#dropped++
      this.#onDrop()
      return
    }
    this.#pending.push(r)
    if (this.#pending.length >= this.#batchSize && this.#writing === null && this.#failures === 0) this.#start()
    else this.#arm()
  }

  /** Writes everything pending now; resolves when it is stored or a write failed. */
  async flush(): Promise<void> {
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
    while (this.#writing !== null) await this.#writing
    while (this.#pending.length > 0) {
      const before = this.#pending.length
      await this.#start()
      if (this.#pending.length >= before) return // the database refused: the records stay for later
    }
  }

  /** Flushes, trying a failed write a few more times before giving up on what is left. */
  async close(): Promise<void> {
    for (let attempt = 0; attempt < 3 && this.#pending.length > 0; attempt++) await this.flush()
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
  }

  #arm(): void {
    if (this.#timer !== null || this.#writing !== null) return
    const delay = Math.min(60_000, this.#delayMs * 2 ** this.#failures)
    this.#timer = setTimeout(() => {
      this.#timer = null
      void this.#start()
    }, delay)
    this.#timer.unref()
  }

  #start(): Promise<void> {
    if (this.#writing !== null) return this.#writing
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
    const batch = this.#pending.splice(0, this.#batchSize)
    if (batch.length === 0) return Promise.resolve()
    const writing = this.store.append(batch).then(
      () => {
        this.#failures = 0
        this.#written += batch.length
      },
      (err: unknown) => {
        this.#failures = Math.min(this.#failures + 1, 16)
        // Back to the front, as far as the buffer has room: newer records are the ones dropped.
        const room = Math.max(0, this.#capacity - this.#pending.length)
        if (room < batch.length) {
          this.#dropped += batch.length - room
          for (let i = room; i < batch.length; i++) this.#onDrop()
        }
        this.#pending.unshift(...batch.slice(0, room))
        this.#onError(err)
      },
    )
    this.#writing = writing.finally(() => {
      this.#writing = null
      if (this.#pending.length > 0) this.#arm()
    })
    return this.#writing
  }
}
