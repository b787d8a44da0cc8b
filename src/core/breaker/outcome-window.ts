// Successes and failures of the last `windowMs`, in a fixed ring of time buckets reused in
// place: recording an outcome writes two numbers, it never allocates. A bucket is stamped with
// the index of the time slice it counts (floor(now / bucketMs)); a stale stamp means the slice
// it held has left the window, so the bucket is emptied when its slot comes round again.

const buckets = 12

export class OutcomeWindow {
  readonly #stamps = new Float64Array(buckets).fill(-Infinity)
  readonly #successes = new Float64Array(buckets)
  readonly #failures = new Float64Array(buckets)
  #bucketMs: number
  /** Totals of the last tally(). */
  outcomes = 0
  failures = 0

  constructor(windowMs: number) {
    this.#bucketMs = bucketWidth(windowMs)
  }

  get windowMs(): number {
    return this.#bucketMs * buckets
  }

  /** A new width empties the window: the stamps counted slices of the old one. */
  resize(windowMs: number): void {
    const width = bucketWidth(windowMs)
    if (width === this.#bucketMs) return
    this.#bucketMs = width
    this.clear()
  }

  clear(): void {
    this.#stamps.fill(-Infinity)
    this.#successes.fill(0)
    this.#failures.fill(0)
    this.outcomes = this.failures = 0
  }

  record(now: number, failed: boolean): void {
    const slice = Math.floor(now / this.#bucketMs)
    const slot = slotOf(slice)
    if (this.#stamps[slot] !== slice) {
      this.#stamps[slot] = slice
      this.#successes[slot] = 0
      this.#failures[slot] = 0
    }
    if (failed) this.#failures[slot]! += 1
    else this.#successes[slot]! += 1
  }

  /**
   * Counts what the window holds at `now` into `outcomes` and `failures`. It takes the current
   * slice and the 11 before it: everything counted is less than windowMs old, and an outcome
   * leaves up to one bucket (windowMs / 12) before it is windowMs old.
   */
  tally(now: number): void {
    const slice = Math.floor(now / this.#bucketMs)
    let outcomes = 0
    let failures = 0
    for (let i = 0; i < buckets; i++) {
      const age = slice - this.#stamps[i]!
      if (age < 0 || age >= buckets) continue
      failures += this.#failures[i]!
      outcomes += this.#failures[i]! + this.#successes[i]!
    }
    this.outcomes = outcomes
    this.failures = failures
  }
}

function bucketWidth(windowMs: number): number {
  // A zero or nonsense window would make every slice index Infinity or NaN; 1 ms keeps it sane.
  return windowMs > 0 ? windowMs / buckets : 1 / buckets
}

function slotOf(slice: number): number {
  const slot = slice % buckets
  return slot < 0 ? slot + buckets : slot
}
