import type { RateLimitKind } from '../pacer/classify-429.js'
import type { LimitAdjustment } from '../../store/types.js'

// How many requests one upstream key may have in flight (DESIGN.md §6 "Learned concurrency",
// research/algorithms.md §2.4). Aether's data model — `max_concurrent: null` learns, a number
// is fixed and never touched, typed 429 counters, a 20-entry history — with a control law that
// does not sit at 0.85 × the real cap: cut to 0.9 × the level the upstream refused, grow by
// 1/L per saturated success (about +1 per window of L completions), and probe the cap upward
// after ten quiet minutes.

export const concurrencyDefaults = {
  initial: 8,
  min: 1,
  max: 200,
  /** L := min(L, backoff × Ĉ) on a concurrency 429. */
  backoff: 0.9,
  /** A success grows L only while this share of floor(L) is in flight. */
  saturation: 0.8,
  /** No growth this long after any 429. */
  growthHoldMs: 5_000,
  /** Ĉ is probed upward only after this long without a 429 … */
  probeQuietMs: 600_000,
  /** … and at most this often. */
  probeEveryMs: 60_000,
  probeShare: 0.05,
  historySize: 20,
} as const

/** Wall-clock epoch milliseconds: these instants are persisted and shown to admins. */
export type EpochMs = number

/** What a limit carries across restarts (the store's KeyLearning without identity and override). */
export interface LearnedState {
  readonly learnedLimit: number | null
  readonly acceptedLevel: number | null
  readonly concurrent429Count: number
  readonly rpm429Count: number
  readonly tpm429Count: number
  readonly last429At: EpochMs | null
  readonly last429Type: string | null
  readonly lastProbeAt: EpochMs | null
  readonly history: readonly LimitAdjustment[]
}

export const nothingLearned: LearnedState = {
  learnedLimit: null,
  acceptedLevel: null,
  concurrent429Count: 0,
  rpm429Count: 0,
  tpm429Count: 0,
  last429At: null,
  last429Type: null,
  lastProbeAt: null,
  history: [],
}

const { min, max } = concurrencyDefaults
const acceptedWindowMs = 60_000

/**
 * One key's concurrency limit and the permits held against it. Time comes in as arguments
 * (epoch ms), so a test drives the law with any clock.
 */
export class ConcurrencyLimit {
  /** Permits held: requests dispatched on this key whose answer or stream has not ended. */
  inflight = 0
  /** Bumped on every change worth persisting; the writer compares it with what it saved. */
  version = 0
  /** Told after every such change, so a writer can arm itself instead of polling. */
  onChange: (() => void) | null = null
  /** null = adaptive. */
  #fixed: number | null
  #limit: number
  #accepted: number | null
  #last429At: EpochMs | null
  #lastProbeAt: EpochMs | null
  concurrent429Count: number
  rpm429Count: number
  tpm429Count: number
  last429Type: string | null
  readonly #history: LimitAdjustment[]
  /** The last concurrency 429 (epoch ms): growth waits 5 s after it, probes ten minutes. */
  #lastCutAt: EpochMs | null = null
  /** The highest in-flight level a success was sent at lately, and when (see acceptedRecently). */
  #okLevel = 0
  #okAt = -Infinity
  /** Monotonic ms until which a concurrency 429 holds new requests back (see holdBack). */
  #gateUntil = -Infinity
  /** Releases still to come from refused requests, which free no upstream slot. */
  #refusedReleases = 0

  constructor(
    readonly id: string,
    readonly provider: string,
    readonly key: string,
    fixed: number | null,
    learned: LearnedState = nothingLearned,
  ) {
    this.#fixed = fixed
    this.#limit = concurrencyDefaults.initial
    this.#accepted = this.#last429At = this.#lastProbeAt = this.last429Type = null
    this.concurrent429Count = this.rpm429Count = this.tpm429Count = 0
    this.#history = []
    this.restore(learned)
  }

  /** Takes up what an earlier run learned (at start, before any request). */
  restore(learned: LearnedState): void {
    this.#limit = clamp(learned.learnedLimit ?? concurrencyDefaults.initial)
    this.#accepted = learned.acceptedLevel === null ? null : clamp(learned.acceptedLevel)
    this.#last429At = learned.last429At
    // Only the last 429's type is stored: when it was a concurrency 429, it was also the last cut.
    this.#lastCutAt = learned.last429Type === 'concurrent' ? learned.last429At : null
    this.#lastProbeAt = learned.lastProbeAt
    this.concurrent429Count = learned.concurrent429Count
    this.rpm429Count = learned.rpm429Count
    this.tpm429Count = learned.tpm429Count
    this.last429Type = learned.last429Type
    this.#history.length = 0
    this.#history.push(...learned.history.slice(-concurrencyDefaults.historySize))
  }

  get adaptive(): boolean {
    return this.#fixed === null
  }

  /** The configured fixed limit, or null when adaptive. */
  get fixed(): number | null {
    return this.#fixed
  }

  /** The learned limit as a whole number of requests (what adaptive mode enforces). */
  get learned(): number {
    return Math.floor(this.#limit)
  }

  /** The learned limit with its fraction, as the law keeps it. */
  get learnedExact(): number {
    return this.#limit
  }

  /** Ĉ: the highest level the upstream is believed to accept; null before the first concurrency 429. */
  get acceptedLevel(): number | null {
    return this.#accepted
  }

  get last429At(): EpochMs | null {
    return this.#last429At
  }

  get lastProbeAt(): EpochMs | null {
    return this.#lastProbeAt
  }

  /** The limit in force: the fixed value, or floor(L). */
  get effective(): number {
    return this.#fixed ?? Math.floor(this.#limit)
  }

  get hasPermit(): boolean {
    return this.inflight < this.effective
  }

  /**
   * How long until this key may take another request, in the scheduler's monotonic ms: 0 now,
   * a time while a concurrency 429 holds it back, Infinity while every permit is held (a
   * release ends that wait, not time).
   */
  wait(now: number): number {
    if (this.inflight >= this.effective) return Infinity
    return now < this.#gateUntil ? this.#gateUntil - now : 0
  }

  /**
   * The upstream refused a request for concurrency: sending another one at once would be
   * refused too, as no slot upstream has freed. Hold new requests until one of ours on this key
   * ends (a slot freed) or, when none of ours is in flight to end, until `until` (the 429's
   * Retry-After, monotonic ms). The refused request's own release does not count as a slot
   * freed: it never held one upstream.
   */
  holdBack(until: number): void {
    this.#gateUntil = Math.max(this.#gateUntil, until)
    this.#refusedReleases++
  }

  get history(): readonly LimitAdjustment[] {
    return this.#history
  }

  acquire(): void {
    this.inflight++
  }

  release(): void {
    if (this.inflight > 0) this.inflight--
    if (this.#refusedReleases > 0) this.#refusedReleases--
    else this.#gateUntil = -Infinity
  }

  /**
   * A typed 429 on this key. `inflight` counts the requests in flight when the refused one was
   * sent, itself included: the upstream refused that level, so it accepts at most one fewer.
   * L only ever takes the lower of itself and 0.9 × Ĉ, so a burst of 429s at one level cuts it
   * once, not once per 429. Ĉ, the ceiling L grows back to, is the latest refused level: a
   * request that reached the upstream behind later ones (a slow new connection) is refused at a
   * level lower than the real one, and keeping the lowest would pin the key below its cap until
   * the next probe, ten minutes on; the latest is corrected by the next 429 if it is too high.
   */
  refused(now: EpochMs, kind: RateLimitKind, inflight: number): void {
    if (kind === 'concurrent') this.concurrent429Count++
    else if (kind === 'rpm') this.rpm429Count++
    else if (kind === 'tpm') this.tpm429Count++
    this.#last429At = now
    this.last429Type = kind
    this.markChanged()
    if (kind !== 'concurrent' || this.#fixed !== null) return
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
    if (this.#fixed !== null) return
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

  /** A request sent while `level` were in flight (itself included) succeeded. */
  noteAccepted(now: EpochMs, level: number): void {
    if (now - this.#okAt > acceptedWindowMs) this.#okLevel = 0
    if (level > this.#okLevel) this.#okLevel = level
    this.#okAt = now
  }

  /**
   * The highest level the upstream took at once within the last minute (0 = none): with no
   * headers to go by, a 429 at or below it is a rate limit, not a concurrency limit.
   */
  acceptedRecently(now: EpochMs): number {
    return now - this.#okAt > acceptedWindowMs ? 0 : this.#okLevel
  }

  /** Admin: fixed at `limit` requests, or adaptive again (null). What was learned is kept. */
  setFixed(limit: number | null): void {
    this.#fixed = limit
    this.markChanged()
  }

  /** Admin: forget the learned limit, counters and history; the mode stays. */
  resetLearning(): void {
    this.#limit = concurrencyDefaults.initial
    this.#accepted = null
    this.#last429At = this.#lastCutAt = null
    this.#lastProbeAt = null
    this.concurrent429Count = this.rpm429Count = this.tpm429Count = 0
    this.last429Type = null
    this.#history.length = 0
    this.markChanged()
  }

  /** What to persist; `learnedLimit` is null until the law has moved L. */
  learnedState(): LearnedState {
    return {
      learnedLimit: this.#limit,
      acceptedLevel: this.#accepted,
      concurrent429Count: this.concurrent429Count,
      rpm429Count: this.rpm429Count,
      tpm429Count: this.tpm429Count,
      last429At: this.#last429At,
      last429Type: this.last429Type,
      lastProbeAt: this.#lastProbeAt,
      history: this.#history.slice(),
    }
  }

  markChanged(): void {
    this.version++
    this.onChange?.()
  }

  #set(now: EpochMs, next: number, reason: string, inflight: number): void {
    const before = Math.floor(this.#limit)
    this.#limit = next
    this.markChanged()
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
