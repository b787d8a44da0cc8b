const buckets = 60

/**
 * A sum over the last 60 seconds in one-second buckets: what a key really delivered lately,
 * which is the best estimate of its true limit when it starts refusing.
 */
export class SlidingCount {
  readonly #sums = new Float64Array(buckets)
  readonly #seconds = new Float64Array(buckets).fill(-Infinity)

  add(nowMs: number, amount: number): void {
    const second = Math.floor(nowMs / 1000)
    const i = ((second % buckets) + buckets) % buckets
    if (this.#seconds[i] !== second) {
      this.#seconds[i] = second
      this.#sums[i] = 0
    }
    this.#sums[i]! += amount
  }

  /** The total added during the last 60 seconds (the current second included). */
  sum(nowMs: number): number {
    const second = Math.floor(nowMs / 1000)
    let total = 0
    for (let i = 0; i < buckets; i++) if (second - this.#seconds[i]! < buckets) total += this.#sums[i]!
    return total
  }
}
