import { SlidingCount } from './sliding-count.js'

// The pacing law of DESIGN.md §6 and research/algorithms.md §1.3, for one dimension of one
// key (requests, or tokens). Rates are per minute; times are the injected clock's ms.

/** Pace below the limit so network jitter cannot push arrivals over a window edge. */
export const headroom = 0.97
/** Recovery waits this long after the last 429, then steps every `recoveryStepMs`. */
export const holdMs = 10_000
export const recoveryStepMs = 5_000
export const recoveryGain = 0.3
/** Without Retry-After, pauses grow 1 s → 60 s and reset on the next success. */
export const backoffMinMs = 1_000
export const backoffMaxMs = 60_000
/** After this long without a 429, with demand waiting, L̂ is probed 5 % upward (once per period). */
export const probeAfterMs = 600_000
export const probeGain = 1.05
/**
 * An estimate taken while demand, not the pacer, set the rate (nothing was waiting for this key:
 * a 429 at low demand) says what the key was asked for, not what it can take. It is probed
 * sooner and by more: after two quiet minutes, every minute, × 1.2, until a refusal while
 * demand waits measures the limit (research/algorithms.md §1.3; the return times are the table
 * in test/unit/core/pacer/adaptive-rate.test.ts, "a faster return").
 */
export const fastProbeAfterMs = 120_000
export const fastProbeEveryMs = 60_000
export const fastProbeGain = 1.2
/** Demand waited for this key within this long before a 429: the pacer, not demand, set the rate. */
const demandRecentMs = 5_000
/** How late a slot may be taken and still count as taken on time (timer lateness). */
const lateSlackMs = 20
/** Fewer successes than this in the last 60 s say nothing about the limit. */
const minSamplesForEstimate = 3
/** Headers that show at most this share of the budget left pause the key until their reset. */
const nearlySpent = 0.02

export type PacerState = 'steady' | 'paused' | 'retreating' | 'recovering'

export interface HeaderWindow {
  readonly limit: number | null
  readonly remaining: number | null
  readonly resetInMs: number | null
}

/**
 * GCRA with burst 1 (requests evenly spaced, as Azure enforces RPM over 1 s and 10 s
 * sub-windows) at `rate`, which retreats on 429s and recovers toward
 * `target = 0.97 × min(ceiling, L̂)`. An unknown limit (no ceiling, nothing learned) is unpaced.
 */
export class AdaptiveRate {
  /** Configured limit per minute; Infinity when none. */
  ceiling: number
  /** Learned limit per minute (headers, or what the key delivered before refusing); Infinity when unknown. */
  estimate = Infinity
  /** The limit the last response headers stated; probes never go above it. */
  #headerLimit = Infinity
  /** Current rate per minute; Infinity until the first retreat. Never above the target. */
  #rate = Infinity
  /** GCRA theoretical arrival time: the earliest instant the next unit may go. */
  #tat = -Infinity
  pauseUntil = -Infinity
  #backoffMs = backoffMinMs
  #inEpisode = false
  #episodeStartedAt = -Infinity
  last429At = -Infinity
  #lastStepAt = -Infinity
  #lastProbeAt = -Infinity
  /** Whether L̂ was measured with demand waiting (or stated by headers); see fastProbeGain. */
  #estimateMeasured = true
  #lastWaitingAt = -Infinity
  readonly #delivered = new SlidingCount()

  constructor(ceiling: number | null) {
    this.ceiling = ceiling ?? Infinity
  }

  get target(): number {
    return headroom * Math.min(this.ceiling, this.estimate)
  }

  /** The rate enforced now, per minute (Infinity = unpaced). */
  rate(now: number): number {
    this.#recover(now)
    return Math.min(this.#rate, this.target)
  }

  /** Milliseconds until `cost` units may go (0 = now). `waiting` says demand is queued behind it. */
  wait(now: number, waiting: boolean): number {
    if (waiting) {
      this.#lastWaitingAt = now
      this.#probe(now)
    }
    return Math.max(0, this.pauseUntil - now, this.#tat - now)
  }

  take(now: number, cost: number): void {
    const rate = this.rate(now)
    // A wake-up timer fires a millisecond or so after the slot it was armed for; scheduling
    // from the late instant would lose that much per dispatch (2 % at 1,000 RPM). A slot
    // taken within a little of its due time keeps the schedule instead: no burst can come of
    // it, since the credit is less than half an interval.
    const late = now - this.#tat
    const interval = rate === Infinity ? 0 : 60_000 / rate
    const start = late > 0 && late <= Math.min(lateSlackMs, interval / 2) ? this.#tat : Math.max(this.#tat, now)
    this.#tat = rate === Infinity ? start : start + cost * interval
  }

  /**
   * Settles a charge once the real cost is known (tokens from `usage`). A refund moves the
   * schedule earlier but never into the past: unused budget is not banked.
   */
  adjust(now: number, delta: number): void {
    const rate = this.rate(now)
    if (rate === Infinity || this.#tat === -Infinity || delta === 0) return
    this.#tat = Math.max(now, this.#tat + (delta * 60_000) / rate)
  }

  /** A response that was not a 429: the upstream accepted `amount` units into its window. */
  accepted(now: number, dispatchedAt: number, amount: number): void {
    this.#delivered.add(now, amount)
    // Only a request sent after the episode began proves it is over; answers to requests sent
    // before it are echoes of the same overload.
    if (dispatchedAt >= this.#episodeStartedAt) {
      this.#inEpisode = false
      this.#backoffMs = backoffMinMs
    }
  }

  /** What the response headers say about this dimension. */
  observed(now: number, w: HeaderWindow): void {
    if (w.limit !== null && w.limit > 0) {
      this.#headerLimit = w.limit
      this.estimate = w.limit
      this.#estimateMeasured = true
    }
    const limit = w.limit ?? this.#headerLimit
    const floor = Math.max(1, nearlySpent * limit)
    if (w.remaining !== null && w.resetInMs !== null && limit !== Infinity && w.remaining <= floor) {
      // OpenAI and Anthropic give the time until the *whole* budget is back, and a budget
      // comes back gradually (a bucket refills, a sliding window lets old requests go). Waiting
      // for all of it would idle a sliding-log key for a minute at a time; the pause lasts the
      // share of that time it takes to get back above the floor. An integer-second reset
      // (Azure's window end) is short anyway.
      const used = Math.max(1, limit - w.remaining)
      const needed = Math.min(used, Math.floor(floor) + 1 - w.remaining)
      this.pauseUntil = Math.max(this.pauseUntil, now + (w.resetInMs * needed) / used)
    }
  }

  /**
   * A 429 for this dimension. The first of an episode halves the rate and (when `reestimate`)
   * re-estimates L̂ from what the last 60 s delivered; the rest of the episode only extends the
   * pause. Returns true when this 429 started a new episode.
   */
  refused(now: number, dispatchedAt: number, retryAfterMs: number | null, reestimate = true): boolean {
    let started = false
    if (!this.#inEpisode && dispatchedAt >= this.#episodeStartedAt) {
      started = true
      this.#inEpisode = true
      this.#episodeStartedAt = now
      this.#recover(now)
      const enforced = Math.min(this.#rate, this.target)
      const delivered = this.#delivered.sum(now)
      const floor = this.#floor()
      // Only a refusal known to be this limit says what the key delivers is all it can take;
      // an untyped one (a glitch, a limit elsewhere) at low demand would set L̂ to that demand.
      if (reestimate && delivered >= minSamplesForEstimate) {
        // Refused while delivering at least the estimate: the estimate itself is too high.
        this.estimate = Math.max(floor, delivered < this.estimate ? delivered : 0.9 * this.estimate)
        this.#estimateMeasured = now - this.#lastWaitingAt <= demandRecentMs
      }
      // Unpaced until now: halve from the limit just learned instead.
      const base = enforced === Infinity ? this.target : enforced
      if (base !== Infinity) this.#rate = Math.max(floor, 0.5 * base)
    }
    // Echoes of the same overload (requests sent before the episode began) share its pause;
    // only a refusal of something sent since then says the pause was too short.
    const echo = !started && dispatchedAt < this.#episodeStartedAt
    if (retryAfterMs !== null) {
      this.pauseUntil = Math.max(this.pauseUntil, now + retryAfterMs)
    } else if (!echo) {
      this.pauseUntil = Math.max(this.pauseUntil, now + this.#backoffMs)
      this.#backoffMs = Math.min(backoffMaxMs, 2 * this.#backoffMs)
    }
    this.last429At = now
    // The first recovery step comes `holdMs` after the last 429.
    this.#lastStepAt = now + holdMs - recoveryStepMs
    return started
  }

  /** Units accepted by the upstream during the last 60 s. */
  delivered(now: number): number {
    return this.#delivered.sum(now)
  }

  state(now: number): PacerState {
    if (now < this.pauseUntil) return 'paused'
    if (this.#inEpisode || now - this.last429At < holdMs) return 'retreating'
    if (this.rate(now) < 0.99 * this.target) return 'recovering'
    return 'steady'
  }

  /** r += 0.3·(target − r) every 5 s once 10 s have passed without a 429; applied when read. */
  #recover(now: number): void {
    const target = this.target
    if (this.#rate >= target || now - this.last429At < holdMs) return
    // An unknown limit (ceiling removed by a reload, nothing learned) is reached in one step;
    // the closed form below would compute Infinity − Infinity = NaN and poison the rate for good.
    if (this.#lastStepAt === -Infinity || target === Infinity) {
      this.#rate = target
      return
    }
    const steps = Math.floor((now - this.#lastStepAt) / recoveryStepMs)
    if (steps <= 0) return
    this.#lastStepAt += steps * recoveryStepMs
    // (1 − 0.3)^steps of the gap remains; closed form, so a long idle costs no loop.
    this.#rate = target - (target - this.#rate) * (1 - recoveryGain) ** steps
    if (target - this.#rate < 0.001 * target) this.#rate = target
  }

  #probe(now: number): void {
    const fast = !this.#estimateMeasured
    const quiet = fast ? fastProbeAfterMs : probeAfterMs
    const every = fast ? fastProbeEveryMs : probeAfterMs
    if (this.estimate === Infinity || now - this.last429At < quiet || now - this.#lastProbeAt < every) return
    const cap = Math.min(this.ceiling, this.#headerLimit)
    if (this.estimate >= cap) return
    this.#lastProbeAt = now
    this.estimate = Math.min(cap, (fast ? fastProbeGain : probeGain) * this.estimate)
  }

  /** Whether L̂ is probed the fast way (it was taken at low demand; see fastProbeGain). */
  get estimateFromLowDemand(): boolean {
    return !this.#estimateMeasured
  }

  #floor(): number {
    const known = Math.min(this.ceiling, this.estimate)
    return known === Infinity ? 1 : Math.max(1, 0.05 * known)
  }
}
