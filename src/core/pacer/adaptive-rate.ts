import { AcceptedBySend } from './accepted-by-send.js'
import { FixedWindowDetector, windowMs } from './fixed-window.js'
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
/** Refusals that lasted this long before one was taken again may have waited for a window's boundary. */
const reopenAfterMs = 3_000
/** A pause to a boundary ends this much after it: the upstream's clock is not ours. */
const boundaryMarginMs = 100
/** A refused request sent within this long after the boundary a pause waited for disproves the window. */
const boundaryProofMs = 2_000
/**
 * A log that frees one request at a time cannot keep refusing after requests it had accepted
 * left its 60 s; this many of them (at least, or this share of the span) may be our clock's
 * error about the upstream's, not evidence of a window.
 */
const agedOutSlack = 2
const agedOutSlackShare = 0.01
const historySize = 10

/** One move of L̂ or of what is known about the window, for /status. */
export interface PacerAdjustment {
  /** The pacer's clock (monotonic ms). */
  readonly at: number
  readonly reason:
    | 'refusal_estimate'
    | 'suspected_boundary_estimate'
    | 'window_estimate'
    | 'window_detected'
    | 'window_forgotten'
    | 'probe_increase'
    | 'low_demand_probe_increase'
    | 'lower_bound_probe_increase'
  /** L̂ after the move, per minute (Infinity when unknown). */
  readonly estimate: number
}

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
  /**
   * Why L̂ is only a lower bound, probed the fast way (fastProbeGain): taken at low demand, or
   * since a suspected window boundary; null when it was measured with demand waiting (or stated
   * by headers).
   */
  #lowerBound: 'low_demand' | 'boundary' | null = null
  #lastWaitingAt = -Infinity
  readonly #delivered = new SlidingCount()
  readonly #acceptedBySend = new AcceptedBySend()
  /** The current episode's first refused request, when it was sent, and whether its estimate came from the 60 s before it. */
  #firstRefusedSend = -Infinity
  #spanEstimate = false
  /** The episode's refusals outlasted requests a log would have let go: a count that resets at an instant. */
  #outlastedLog = false
  /** Whether this dimension's upstream counts in fixed windows, and where their boundaries are. */
  readonly window = new FixedWindowDetector()
  /** The latest dispatch refused in the current episode, and whether Retry-After (not backoff) set its pause. */
  #lastRefusedDispatch = -Infinity
  #episodeToldWhen = false
  /** Units taken in the known window that starts at #takenWindowStart: at most the target per window. */
  #takenInWindow = 0
  #takenWindowStart = -Infinity
  /** Units accepted of requests sent in the known window that starts at #countedWindowStart. */
  #acceptedInWindow = 0
  #countedWindowStart = -Infinity
  /** The boundary the last pause waited for. */
  #pausedToBoundary = -Infinity
  /** This episode's estimate came from a whole window: pause to that window's end, not by backoff. */
  #pauseToWindowEnd = false
  readonly #history: PacerAdjustment[] = []

  constructor(ceiling: number | null) {
    this.ceiling = ceiling ?? Infinity
  }

  /** The limit per minute the upstream's headers last stated (the key's own, whoever sends to it); Infinity when none. */
  get statedLimit(): number {
    return this.#headerLimit
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
    return Math.max(0, this.pauseUntil - now, this.#tat - now, this.#windowSpentFor(now))
  }

  /** With a known window: the target is a budget per window, and once it is spent the next unit waits for the boundary. */
  #windowSpentFor(now: number): number {
    if (this.#takenInWindow < this.target) return 0
    const start = this.window.windowStart(now)
    return start === null || start !== this.#takenWindowStart ? 0 : start + windowMs - now
  }

  /** The last moves of L̂ and of the window, oldest first. */
  get history(): readonly PacerAdjustment[] {
    return this.#history
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
    const windowStart = this.window.windowStart(now)
    if (windowStart !== null) {
      if (windowStart !== this.#takenWindowStart) {
        this.#takenWindowStart = windowStart
        this.#takenInWindow = 0
      }
      this.#takenInWindow += cost
    }
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
    this.#acceptedBySend.add(dispatchedAt, amount)
    this.#countInWindow(dispatchedAt, amount)
    // Only a request sent after the episode began proves it is over; answers to requests sent
    // before it are echoes of the same overload.
    if (dispatchedAt >= this.#episodeStartedAt) {
      if (this.#inEpisode && !this.#episodeToldWhen && dispatchedAt - this.#episodeStartedAt >= reopenAfterMs) {
        if (this.window.noteReopened(this.#lastRefusedDispatch, dispatchedAt)) this.#record(now, 'window_detected')
        else if (this.window.known === null) this.#estimateSinceSuspectedBoundary(now, dispatchedAt)
      }
      this.#inEpisode = false
      this.#backoffMs = backoffMinMs
    }
  }

  /** What the response headers say about this dimension. */
  observed(now: number, w: HeaderWindow): void {
    if (w.limit !== null && w.limit > 0) {
      this.#headerLimit = w.limit
      this.estimate = w.limit
      this.#lowerBound = null
    }
    if (w.resetInMs !== null && w.resetInMs > 0 && this.window.noteResetInstant(now, now + w.resetInMs)) this.#record(now, 'window_detected')
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
      this.#lastRefusedDispatch = dispatchedAt
      this.#episodeToldWhen = retryAfterMs !== null
      this.#pauseToWindowEnd = false
      this.#firstRefusedSend = dispatchedAt
      this.#spanEstimate = false
      this.#outlastedLog = false
      this.#recover(now)
      const enforced = Math.min(this.#rate, this.target)
      const delivered = this.#delivered.sum(now)
      const floor = this.#floor()
      const windowStart = this.window.windowStart(dispatchedAt) ?? this.window.tentativeWindowStart(dispatchedAt)
      const wholeWindow = windowStart !== null && windowStart === this.#countedWindowStart ? this.#windowTook(windowStart, dispatchedAt) : 0
      if (reestimate && wholeWindow >= minSamplesForEstimate) {
        // A known window: what it took since its boundary is the limit, never a span that
        // straddles a boundary (up to 2 L). Its budget and the pause to the next boundary hold
        // the rate, so there is nothing to halve.
        this.estimate = Math.max(floor, wholeWindow < this.estimate ? wholeWindow : 0.9 * this.estimate)
        this.#lowerBound = null
        this.#rate = this.target
        this.#pauseToWindowEnd = true
        this.#record(now, 'window_estimate')
      } else {
        // Only a refusal known to be this limit says what the key delivers is all it can take;
        // an untyped one (a glitch, a limit elsewhere) at low demand would set L̂ to that demand.
        if (reestimate && delivered >= minSamplesForEstimate) {
          // Refused while delivering at least the estimate: the estimate itself is too high.
          this.estimate = Math.max(floor, delivered < this.estimate ? delivered : 0.9 * this.estimate)
          this.#lowerBound = now - this.#lastWaitingAt <= demandRecentMs ? null : 'low_demand'
          this.#spanEstimate = true
          this.#record(now, 'refusal_estimate')
        }
        // Unpaced until now: halve from the limit just learned instead.
        const base = enforced === Infinity ? this.target : enforced
        if (base !== Infinity) this.#rate = Math.max(floor, 0.5 * base)
      }
    } else if (dispatchedAt > this.#lastRefusedDispatch) {
      this.#lastRefusedDispatch = dispatchedAt
    }
    if (!started && dispatchedAt >= this.#episodeStartedAt) this.#noteRefusalOutlasting(dispatchedAt)
    if (dispatchedAt >= this.#pausedToBoundary && dispatchedAt - this.#pausedToBoundary < boundaryProofMs && this.window.known !== null) {
      // Sent just after the boundary a pause waited for, and refused all the same: no window resets there.
      this.window.forget()
      this.#pausedToBoundary = -Infinity
      this.#record(now, 'window_forgotten')
    }
    // Echoes of the same overload (requests sent before the episode began) share its pause;
    // only a refusal of something sent since then says the pause was too short.
    const echo = !started && dispatchedAt < this.#episodeStartedAt
    // The window this refusal's estimate came from ends at a boundary, known or seen once.
    const boundary = !reestimate ? null : this.window.boundaryAfter(now) ?? (this.#pauseToWindowEnd ? this.window.tentativeResetAfter(now) : null)
    if (retryAfterMs !== null) {
      this.pauseUntil = Math.max(this.pauseUntil, now + retryAfterMs)
      if (this.window.noteResetInstant(now, now + retryAfterMs)) this.#record(now, 'window_detected')
    } else if (boundary !== null) {
      // A known window refuses until its boundary and takes a whole budget after it: one pause, no probes.
      this.pauseUntil = Math.max(this.pauseUntil, boundary + boundaryMarginMs)
      this.#pausedToBoundary = boundary
    } else if (!echo) {
      // Doubling, but never past the instant a window seen once before would reset.
      const reset = this.window.tentativeResetAfter(now)
      const backoffEnd = now + this.#backoffMs
      const until = reset === null ? backoffEnd : Math.min(backoffEnd, Math.max(now + backoffMinMs, reset + boundaryMarginMs))
      this.pauseUntil = Math.max(this.pauseUntil, until)
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
    const fast = this.#lowerBound !== null
    const quiet = fast ? fastProbeAfterMs : probeAfterMs
    const every = fast ? fastProbeEveryMs : probeAfterMs
    if (this.estimate === Infinity || now - this.last429At < quiet || now - this.#lastProbeAt < every) return
    const cap = Math.min(this.ceiling, this.#headerLimit)
    if (this.estimate >= cap) return
    this.#lastProbeAt = now
    this.estimate = Math.min(cap, (fast ? fastProbeGain : probeGain) * this.estimate)
    this.#record(now, this.#lowerBound === null ? 'probe_increase' : this.#lowerBound === 'low_demand' ? 'low_demand_probe_increase' : 'lower_bound_probe_increase')
  }

  /**
   * A request sent at `sentAt` during an episode was refused. A sliding log refuses only while
   * the requests of its last 60 s fill it, and everything accepted before the episode was taken
   * with fewer than the limit in the 60 s before it; so once requests accepted in the span
   * before the first refusal have left the 60 s, a log would take the next one. Still refused,
   * the upstream counts in a window that resets at an instant (a token bucket refills within
   * 60 / L s, too soon to get here).
   */
  #noteRefusalOutlasting(sentAt: number): void {
    const first = this.#firstRefusedSend
    if (this.#outlastedLog || sentAt - first >= windowMs) return
    const span = this.#acceptedBySend.between(first - windowMs, first)
    const agedOut = this.#acceptedBySend.between(first - windowMs, sentAt - windowMs)
    this.#outlastedLog = agedOut > Math.max(agedOutSlack, agedOutSlackShare * span)
  }

  /**
   * Taken again at `reopenedAt` after refusals that outlasted a log: a window's boundary came in
   * the gap, so the window before it started in the same gap a minute earlier, and the 60 s the
   * episode's estimate came from straddled that boundary (up to 2 L for a fixed window started
   * late in the upstream's minute). What was sent from the latest instant that boundary can have
   * been up to the first refusal all fell in one window: a lower bound of L, as is half the span
   * (two windows at most). L̂ becomes that bound and is probed the fast way; a refusal in the
   * window now opening, or a second reopening, measures it.
   */
  #estimateSinceSuspectedBoundary(now: number, reopenedAt: number): void {
    if (!this.#spanEstimate || !this.#outlastedLog) return
    const first = this.#firstRefusedSend
    const sinceBoundary = this.#acceptedBySend.between(reopenedAt - windowMs, first)
    const halfSpan = this.#acceptedBySend.between(first - windowMs, first) / 2
    const lower = Math.max(sinceBoundary, halfSpan)
    if (lower < minSamplesForEstimate || lower >= this.estimate) return
    this.estimate = Math.max(this.#floor(), lower)
    this.#lowerBound = 'boundary'
    this.#record(now, 'suspected_boundary_estimate')
  }

  /**
   * What the window that starts at `start` took of requests sent up to `until`. A boundary known
   * only to within u ms (the latest instant kept) lets the true window begin up to u ms earlier,
   * where the pacer sent requests it counted in the window before: the count since `start` is a
   * lower bound and the count since `start − u` an upper one. The middle halves the worst error;
   * the lower bound alone kept L̂ below the limit for good (a window is refused again only above it).
   */
  #windowTook(start: number, until: number): number {
    const uncertaintyMs = this.window.known?.uncertaintyMs ?? 0
    if (uncertaintyMs === 0) return this.#acceptedInWindow
    return (this.#acceptedInWindow + this.#acceptedBySend.between(start - uncertaintyMs, until + 1)) / 2
  }

  /** Counts what the upstream took of requests sent in the known window they were sent in. */
  #countInWindow(dispatchedAt: number, amount: number): void {
    const start = this.window.windowStart(dispatchedAt) ?? this.window.tentativeWindowStart(dispatchedAt)
    if (start === null || start < this.#countedWindowStart) return
    if (start > this.#countedWindowStart) {
      this.#countedWindowStart = start
      this.#acceptedInWindow = 0
    }
    this.#acceptedInWindow += amount
  }

  #record(at: number, reason: PacerAdjustment['reason']): void {
    this.#history.push({ at, reason, estimate: this.estimate })
    if (this.#history.length > historySize) this.#history.shift()
  }

  /** Whether L̂ was taken at low demand (and is probed the fast way; see fastProbeGain). */
  get estimateFromLowDemand(): boolean {
    return this.#lowerBound === 'low_demand'
  }

  #floor(): number {
    const known = Math.min(this.ceiling, this.estimate)
    return known === Infinity ? 1 : Math.max(1, 0.05 * known)
  }
}
