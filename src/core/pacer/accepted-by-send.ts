const bucketMs = 250
const buckets = 600

/**
 * What the upstream accepted, filed under the instant each request was *sent* (the instant an
 * upstream's log or window counts it), in quarter-second buckets over the last 150 s. Unlike the
 * answer-time SlidingCount it can say how much of a past span's traffic fell in any stretch of
 * it: the evidence that tells a window that resets at an instant from a log that frees a request
 * at a time (issue 14).
 */
export class AcceptedBySend {
  readonly #sums = new Float64Array(buckets)
  readonly #bucket = new Float64Array(buckets).fill(-Infinity)

  add(sentAt: number, amount: number): void {
    const n = Math.floor(sentAt / bucketMs)
    const i = slot(n)
    const held = this.#bucket[i]!
    // An answer so late that its bucket was reused for a newer one is dropped, not mixed in.
    if (held > n) return
    if (held !== n) {
      this.#bucket[i] = n
      this.#sums[i] = 0
    }
    this.#sums[i]! += amount
  }

  /**
   * Units sent within [from, to], counting only buckets wholly inside it (so never more than
   * was sent there), and only what the last 150 s still hold.
   */
  between(from: number, to: number): number {
    const last = Math.floor(to / bucketMs) - 1
    const first = Math.max(Math.ceil(from / bucketMs), last - buckets + 1)
    let total = 0
    for (let n = first; n <= last; n++) if (this.#bucket[slot(n)] === n) total += this.#sums[slot(n)]!
    return total
  }
}

function slot(n: number): number {
  return ((n % buckets) + buckets) % buckets
}
