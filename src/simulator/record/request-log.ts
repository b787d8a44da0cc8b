import type { RequestRecord } from '../types.js'

export const REQUEST_LOG_CAPACITY = 10_000

interface Waiter { count: number, resolve: () => void }

/** The last finished requests in a ring buffer, and promises waiting for a number of them. */
export class RequestLog {
  readonly #ring: (RequestRecord | undefined)[] = new Array<RequestRecord | undefined>(REQUEST_LOG_CAPACITY)
  #next = 0
  #size = 0
  #finished = 0
  #waiters: Waiter[] = []

  add(record: RequestRecord): void {
    this.#ring[this.#next] = record
    this.#next = (this.#next + 1) % REQUEST_LOG_CAPACITY
    if (this.#size < REQUEST_LOG_CAPACITY) this.#size++
    this.#finished++
    if (this.#waiters.length > 0) this.#wake()
  }

  /** Oldest first. */
  list(): RequestRecord[] {
    const out: RequestRecord[] = []
    const start = (this.#next - this.#size + REQUEST_LOG_CAPACITY) % REQUEST_LOG_CAPACITY
    for (let i = 0; i < this.#size; i++) {
      const record = this.#ring[(start + i) % REQUEST_LOG_CAPACITY]
      if (record !== undefined) out.push(record)
    }
    return out
  }

  /** Resolves once `count` requests have finished since the start or the last clear(). */
  waitFor(count: number): Promise<void> {
    if (this.#finished >= count) return Promise.resolve()
    return new Promise((resolve) => this.#waiters.push({ count, resolve }))
  }

  /** Forgets records and the finished count; pending waiters keep waiting on the new count. */
  clear(): void {
    this.#ring.fill(undefined)
    this.#next = 0
    this.#size = 0
    this.#finished = 0
  }

  #wake(): void {
    const still: Waiter[] = []
    for (const w of this.#waiters) {
      if (this.#finished >= w.count) w.resolve()
      else still.push(w)
    }
    this.#waiters = still
  }
}
