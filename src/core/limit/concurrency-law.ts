import type { LimitAdjustment } from '../../store/types.js'
import { concurrencyDefaults, type EpochMs, type LearnedState } from './learned-state.js'

const { min, max } = concurrencyDefaults

/**
 * The control law of an adaptive concurrency limit, and nothing else: L and Ĉ, when it was last
 * cut and probed, and the history of its moves. Permits, counters and persistence live beside
 * it (permits.ts, concurrency-limit.ts). Time comes in as arguments (epoch ms).
 */
export class ConcurrencyLaw {
  #limit: number = concurrencyDefaults.initial
  #accepted: number | null = null
  /** The last concurrency 429: growth waits 5 s after it, probes ten minutes. */
  #lastCutAt: EpochMs | null = null
  #lastProbeAt: EpochMs | null = null
  readonly #history: LimitAdjustment[] = []

  /** `changed` is told after every move worth persisting. */
  constructor(private readonly changed: () => void) {}

  restore(learned: LearnedState): void {
    this.#limit = clamp(learned.learnedLimit ?? concurrencyDefaults.initial)
    this.#accepted = learned.acceptedLevel === null ? null : clamp(learned.acceptedLevel)
    // Only the last 429's type is stored: when it was a concurrency 429, it was also the last cut.
    this.#lastCutAt = learned.last429Type === 'concurrent' ? learned.last429At : null
    this.#lastProbeAt = learned.lastProbeAt
    this.#history.length = 0
    this.#history.push(...learned.history.slice(-concurrencyDefaults.historySize))
  }

  reset(): void {
    this.#limit = concurrencyDefaults.initial
    this.#accepted = null
    this.#lastCutAt = this.#lastProbeAt = null
    this.#history.length = 0
  }

  /** L with its fraction. */
  get limit(): number {
    return this.#limit
  }

  /** Ĉ: the highest level the upstream is believed to accept; null before the first concurrency 429. */
  get accepted(): number | null {
    return this.#accepted
  }

  get lastProbeAt(): EpochMs | null {
    return this.#lastProbeAt
  }

  get history(): readonly LimitAdjustment[] {
    return this.#history
  }

  /**
   * A concurrency 429 at `inflight` (the refused request included): the upstream accepts at
   * most one fewer. L only ever takes the lower of itself and 0.9 × Ĉ, so a burst of 429s at one
   * level cuts it once, not once per 429. Ĉ, the ceiling L grows back to, is the latest refused
   * level: a request that reached the upstream behind later ones (a slow new connection) is
   * refused at a level lower than the real one, and keeping the lowest would pin the key below
   * its cap until the next probe, ten minutes on; the latest is corrected by the next 429 if it
   * is too high.
   */
  cut(now: EpochMs, inflight: number): void {
    this.#lastCutAt = now
    this.#accepted = Math.max(min, inflight - 1)
    const next = clamp(Math.min(this.#limit, concurrencyDefaults.backoff * this.#accepted))
    if (next !== this.#limit) this.#set(now, next, 'concurrent_429', inflight)
  }

  /**
   * The upstream accepted a request and its answer ended; `inflight` is how many were in flight
   * at that moment, this one included. Grows L only when the limit is what held traffic back.
   */
  succeeded(now: EpochMs, inflight: number): void {
    // Only concurrency 429s say anything about this limit: a rate 429 must not stop it growing.
    const since429 = this.#lastCutAt === null ? Infinity : now - this.#lastCutAt
    if (since429 < concurrencyDefaults.growthHoldMs) return
    if (inflight < concurrencyDefaults.saturation * Math.floor(this.#limit)) return
    const accepted = this.#accepted
    if (
      accepted !== null
      && this.#limit >= accepted
      && since429 >= concurrencyDefaults.probeQuietMs
      && (this.#lastProbeAt === null || now - this.#lastProbeAt >= concurrencyDefaults.probeEveryMs)
    ) {
      const raised = Math.min(max, accepted + Math.max(1, Math.floor(concurrencyDefaults.probeShare * accepted)))
      this.#lastProbeAt = now
      if (raised !== accepted) {
        this.#accepted = raised
        this.#record(now, accepted, raised, 'probe_increase', inflight)
      }
    }
    const next = Math.min(this.#accepted ?? max, this.#limit + 1 / this.#limit)
    if (next > this.#limit) this.#set(now, next, 'high_utilization', inflight)
  }

  #set(now: EpochMs, next: number, reason: string, inflight: number): void {
    const before = Math.floor(this.#limit)
    this.#limit = next
    this.changed()
    // L moves by fractions; the history shows changes of the enforced whole number.
    if (Math.floor(next) !== before) this.#record(now, before, Math.floor(next), reason, inflight)
  }

  #record(now: EpochMs, oldLimit: number, newLimit: number, reason: string, inflight: number): void {
    this.#history.push({ timestamp: new Date(now).toISOString(), old_limit: oldLimit, new_limit: newLimit, reason, inflight })
    if (this.#history.length > concurrencyDefaults.historySize) this.#history.shift()
  }
}

function clamp(limit: number): number {
  return Math.min(max, Math.max(min, limit))
}
