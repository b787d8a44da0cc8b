// One consumer limit per minute (RPM or TPM), as DESIGN.md §3 "admit" and the consumer-limits
// issue describe it: GCRA whose burst is the whole limit, so a consumer at RPM 5 may send five
// at once and then one every 12 s — the bucket OpenAI's x-ratelimit-* headers describe (limit,
// remaining, time until it is full again). The upstream pacer (core/pacer) is the other GCRA:
// burst 1, adaptive; this one is fixed and only says yes or no.

/** The window a per-minute limit refills over. */
export const WINDOW_MS = 60_000

/**
 * The outcome of one call on a `ConsumerRate`. One object per rate, rewritten by every call
 * (see `ConsumerRate.decision`): read it before the next call on the same rate.
 */
export interface RateDecision {
  /** The amount was taken (tryTake), or would be (check). peek: true while at least one unit is free. */
  ok: boolean
  /** The amount exceeds the whole limit and can never fit: answer at once, do not wait. */
  tooLarge: boolean
  limit: number
  /** Whole units still free after this call (nothing is taken on a refusal); 0 while in debt. */
  remaining: number
  /** ms until the bucket is full again (OpenAI's x-ratelimit-reset-*). */
  resetMs: number
  /** ok: 0. Refused: ms until the amount fits. null when it never will (tooLarge). */
  retryAfterMs: number | null
}

/**
 * GCRA, burst = limit. The textbook form keeps one theoretical arrival time and adds
 * T = 60 000 / limit ms per unit; at RPM 7 that interval is 8571.43 ms, and seven of them sum to
 * 60 000.000000000007 ms, so the seventh request of a full burst would be refused. The same
 * state is kept here as `#backlog` = (TAT − `#at`) × limit, in units scaled by the window: a unit
 * costs WINDOW_MS, the bucket holds limit × WINDOW_MS and drains `limit` per ms. With the clock
 * floored to whole ms every quantity is an integer, so boundaries are exact (below 2^53 — a
 * TPM of 10^7 fills at 6 × 10^11).
 */
export class ConsumerRate {
  #limit: number
  #limitText: string
  #capacity: number
  #backlog = 0
  #at = -Infinity

  /**
   * The result of the last call, returned by tryTake, check and peek. Reused rather than
   * allocated: admit runs on every request, and each call is read before the next one (admit
   * is synchronous, so no other request can get in between). Plain fields on the rate itself
   * would mix what it is with what it last said, and a stage holds two of these (requests and
   * tokens) side by side.
   */
  readonly decision: RateDecision

  constructor(limit: number) {
    this.#limit = checkLimit(limit)
    this.#limitText = String(limit)
    this.#capacity = limit * WINDOW_MS
    this.decision = { ok: true, tooLarge: false, limit, remaining: limit, resetMs: 0, retryAfterMs: 0 }
  }

  get limit(): number {
    return this.#limit
  }

  /** `String(limit)`, made once for the x-ratelimit-limit-* header. */
  get limitText(): string {
    return this.#limitText
  }

  /** Takes `amount` units if they fit now; otherwise takes nothing and says when they would. */
  tryTake(now: number, amount: number): RateDecision {
    return this.#evaluate(now, amount, true)
  }

  /** tryTake without taking: whether `amount` fits now. */
  check(now: number, amount: number): RateDecision {
    return this.#evaluate(now, amount, false)
  }

  /** The standing now, for headers; `ok` says whether one unit would fit. */
  peek(now: number): RateDecision {
    return this.#evaluate(now, 1, false)
  }

  /**
   * Settles a charge once the real amount is known: negative gives units back (never more
   * than the bucket holds: unused budget is not banked), positive charges more, past the
   * limit if need be — that debt makes the next requests wait until it has drained.
   */
  adjust(now: number, delta: number): void {
    this.#drain(now)
    this.#backlog = Math.max(0, this.#backlog + delta * WINDOW_MS)
  }

  /** Gives back `amount` units taken earlier (a request that never went upstream, or used less). */
  refund(now: number, amount: number): void {
    this.adjust(now, -amount)
  }

  /**
   * A new limit. What was used stays used: a consumer that sent 5 of 5 and is raised to 10 has
   * 5 left at once; one lowered below its use is in debt and waits.
   */
  reconfigure(now: number, limit: number): void {
    if (limit === this.#limit) return
    this.#drain(now)
    this.#limit = checkLimit(limit)
    this.#limitText = String(limit)
    this.#capacity = limit * WINDOW_MS
  }

  #evaluate(now: number, amount: number, take: boolean): RateDecision {
    this.#drain(now)
    const d = this.decision
    const need = Math.max(0, amount) * WINDOW_MS
    d.limit = this.#limit
    d.tooLarge = need > this.#capacity
    const excess = this.#backlog + need - this.#capacity
    if (d.tooLarge) {
      d.ok = false
      d.retryAfterMs = null
    } else if (excess <= 0) {
      d.ok = true
      d.retryAfterMs = 0
      if (take) this.#backlog += need
    } else {
      d.ok = false
      // Rounded up, so a retry exactly this much later fits.
      d.retryAfterMs = Math.ceil(excess / this.#limit)
    }
    d.remaining = Math.max(0, Math.floor((this.#capacity - this.#backlog) / WINDOW_MS))
    d.resetMs = Math.ceil(this.#backlog / this.#limit)
    return d
  }

  #drain(now: number): void {
    // Sub-millisecond time means nothing to a per-minute limit, and whole ms keep every quantity
    // an integer. A clock that went back (it should not) changes nothing.
    const t = Math.floor(now)
    if (t <= this.#at) return
    this.#backlog = Math.max(0, this.#backlog - (t - this.#at) * this.#limit)
    this.#at = t
  }
}

function checkLimit(limit: number): number {
  if (!(limit > 0) || !Number.isFinite(limit)) throw new RangeError(`a consumer limit must be a positive number per minute, got ${limit}`)
  return limit
}
