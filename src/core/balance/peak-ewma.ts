/**
 * Peak-EWMA of a latency (Finagle's and tower's load estimate; research/algorithms.md §4.1):
 * a sample above the estimate replaces it at once, so a key that turns slow is avoided from its
 * next answer on; a sample below pulls the estimate down by how much time has passed since the
 * last one — 1 − e^(−Δt/τ) — so a single fast answer cannot erase a recent slow one, but an
 * estimate last fed minutes ago follows the new sample almost entirely.
 *
 * Time is passed in (monotonic ms), so tests drive the decay by hand. The estimate only moves
 * on samples; how to treat a key with no samples (null) is the caller's choice.
 */
export class PeakEwma {
  readonly #decayMs: number
  #value: number | null = null
  #at = 0

  /** `decayMs` is τ: after τ the old estimate keeps e⁻¹ ≈ 37 % of its weight. */
  constructor(decayMs = 10_000) {
    if (!(decayMs > 0)) throw new RangeError(`PeakEwma decay must be positive, got ${decayMs}`)
    this.#decayMs = decayMs
  }

  /** The estimate in ms, or null before the first sample. */
  get value(): number | null {
    return this.#value
  }

  /** Feeds one sample (ms) taken at `now`. Samples that go back in time count as simultaneous. */
  observe(sampleMs: number, now: number): number {
    const current = this.#value
    if (current === null || sampleMs >= current) {
      this.#value = sampleMs
    } else {
      const w = Math.exp(-Math.max(0, now - this.#at) / this.#decayMs)
      this.#value = current * w + sampleMs * (1 - w)
    }
    // Never moves backwards, so a late sample cannot give the next one a longer Δt.
    if (now > this.#at || current === null) this.#at = now
    return this.#value
  }

  /** Forgets the estimate (a key re-enabled after a long outage is measured afresh). */
  reset(): void {
    this.#value = null
    this.#at = 0
  }
}
