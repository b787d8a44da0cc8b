// Whether an upstream counts a key's requests in fixed windows (a counter that resets at a
// boundary every minute) and where its boundaries are, from the evidence a pacer sees
// (issue 14): answers seconds apart whose reset (a header's, or a refusal's Retry-After) points
// at one instant, or refusals that last until an instant that recurs a minute later. A sliding
// log or a token bucket frees capacity a request at a time, so the instant its reset points at
// moves with every request.

export const windowMs = 60_000
/** Two reset instants this close, modulo a minute, point at one boundary (Retry-After is whole seconds). */
const sameInstantMs = 1_000
/** Two reset instants from answers at least this far apart (closer ones are one overload's echoes), within one window. */
const independentMs = 2_000
/** A boundary known more loosely than this is not used: the pause to it would idle the key too long. */
const maxUncertaintyMs = 20_000

/** Where a known window's boundaries are: `anchor` + k × 60 s, known to within `uncertaintyMs` before it. */
export interface WindowBoundaries {
  readonly anchor: number
  readonly uncertaintyMs: number
}

export class FixedWindowDetector {
  #known: WindowBoundaries | null = null
  /** The last reset instant a refusal pointed at, and when that refusal came. */
  #resetAt: number | null = null
  #resetNotedAt = -Infinity
  /** The last reopening: the boundary lies in (lo, hi]. */
  #reopen: { readonly lo: number; readonly hi: number } | null = null

  get known(): WindowBoundaries | null {
    return this.#known
  }

  /**
   * An answer at `now` said the budget comes back at `at` (a reset header, a refusal's
   * Retry-After). Two answers 2 s to a minute apart pointing at the same instant make the window
   * known, its boundary at that instant (the later of the two). Not modulo a minute: a sliding
   * log refused once a minute by a pacer a little too fast points a minute on each time. True
   * when this made a window known.
   */
  noteResetInstant(now: number, at: number): boolean {
    const previous = this.#resetAt
    const apart = now - this.#resetNotedAt
    if (previous !== null && apart < independentMs) return false
    this.#resetAt = at
    this.#resetNotedAt = now
    if (previous === null || apart >= windowMs || Math.abs(at - previous) > sameInstantMs) return false
    const wasKnown = this.#known !== null
    this.#known = { anchor: Math.max(at, previous), uncertaintyMs: Math.abs(at - previous) }
    return !wasKnown
  }

  /**
   * Refusals lasted from an episode's start until a request sent at `hi` was taken, and one
   * sent at `lo` was still refused: if a boundary reset them, it lies in (lo, hi]. The same
   * interval a whole number of minutes later makes the window known, with its boundary at the
   * latest instant both allow (resuming then is never early). True when this made a window known.
   */
  noteReopened(lo: number, hi: number): boolean {
    // Longer than a window, the key was idle rather than refused: that says nothing of a boundary.
    if (hi - lo > windowMs) return false
    const previous = this.#reopen
    this.#reopen = { lo, hi }
    if (previous === null) return false
    const shift = Math.round((hi - previous.hi) / windowMs) * windowMs
    if (shift <= 0) return false
    const from = Math.max(lo, previous.lo + shift)
    const to = Math.min(hi, previous.hi + shift)
    if (to <= from || to - from > maxUncertaintyMs) return false
    this.#reopen = { lo: from, hi: to }
    const wasKnown = this.#known !== null
    this.#known = { anchor: to, uncertaintyMs: to - from }
    return !wasKnown
  }

  /**
   * Without a known window, where a reset would come if the last reopening was a boundary: the
   * first instant after `now` a whole number of minutes after it (null: no reopening seen). A
   * doubling backoff capped here does not overshoot the reset it is waiting for.
   */
  tentativeResetAfter(now: number): number | null {
    return this.#reopen === null ? null : nextAfter(this.#reopen.hi, now)
  }

  /**
   * Without a known window, the start of the window holding `at` if the last reopening was a
   * boundary and `at` is in the window it opened (null otherwise). Nothing was sent between that boundary and the
   * reopening (the key was paused), so what the key delivered since the reopening is that whole
   * window's count, whichever instant in (lo, hi] the boundary really was.
   */
  tentativeWindowStart(at: number): number | null {
    // Only the first window: at later boundaries the key was not paused, so a count from one of them is partial.
    if (this.#known !== null || this.#reopen === null || at < this.#reopen.hi || at >= this.#reopen.hi + windowMs) return null
    return this.#reopen.hi
  }

  /** The first boundary after `now`; null when no window is known. */
  boundaryAfter(now: number): number | null {
    return this.#known === null ? null : nextAfter(this.#known.anchor, now)
  }

  /** The start of the window holding `at`; null when no window is known. */
  windowStart(at: number): number | null {
    const next = this.boundaryAfter(at)
    return next === null ? null : next - windowMs
  }

  /** The evidence was wrong (a request sent right after a boundary was refused): start again. */
  forget(): void {
    this.#known = null
    this.#reopen = null
    this.#resetAt = null
  }
}

/** The first instant after `now` that is `anchor` plus a whole number of windows. */
function nextAfter(anchor: number, now: number): number {
  return anchor + (Math.floor((now - anchor) / windowMs) + 1) * windowMs
}
