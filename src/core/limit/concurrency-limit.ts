import type { RateLimitKind } from '../pacer/classify-429.js'
import type { LimitAdjustment } from '../../store/types.js'
import { ConcurrencyLaw } from './concurrency-law.js'
import { nothingLearned, type EpochMs, type LearnedState } from './learned-state.js'
import { PermitCounter, type Permit, type PermitListener } from './permits.js'

export { concurrencyDefaults, nothingLearned, type EpochMs, type LearnedState } from './learned-state.js'

const acceptedWindowMs = 60_000

export interface ConcurrencyLimitOptions {
  /** `provider~key`, as the admin API and the store name it. */
  readonly id: string
  readonly provider: string
  readonly key: string
  /** The fixed limit, or null to learn it. */
  readonly fixed: number | null
  /** What an earlier run learned. */
  readonly learned?: LearnedState
}

/**
 * One key's concurrency limit: its mode (fixed or adaptive), the law that learns it
 * (ConcurrencyLaw), the permits held against it (PermitCounter), and the record an admin sees
 * and the store persists (typed 429 counters, a change version). Time comes in as arguments
 * (epoch ms), so a test drives it with any clock.
 */
export class ConcurrencyLimit {
  /** Bumped on every change worth persisting; the writer compares it with what it saved. */
  version = 0
  /** Told after every such change, so a writer can arm itself instead of polling. */
  onChange: (() => void) | null = null
  /** null = adaptive. */
  #fixed: number | null
  readonly #law = new ConcurrencyLaw(() => this.markChanged())
  readonly #permits = new PermitCounter()
  #last429At: EpochMs | null = null
  concurrent429Count = 0
  rpm429Count = 0
  tpm429Count = 0
  last429Type: string | null = null
  /** The highest in-flight level a success was sent at lately, and when (see acceptedRecently). */
  #okLevel = 0
  #okAt = -Infinity
  /** A successful permit's end: evidence for 429 typing, and for the law when adaptive. */
  readonly #onPermitEnd: PermitListener = (permit, outcome, at) => {
    if (outcome !== 'success') return
    this.noteAccepted(at, permit.level)
    this.succeeded(at, this.#permits.inflight)
  }

  readonly id: string
  readonly provider: string
  readonly key: string

  constructor(opts: ConcurrencyLimitOptions) {
    this.id = opts.id
    this.provider = opts.provider
    this.key = opts.key
    this.#fixed = opts.fixed
    this.restore(opts.learned ?? nothingLearned)
  }

  /** Takes up what an earlier run learned (at start, before any request). */
  restore(learned: LearnedState): void {
    this.#law.restore(learned)
    this.#last429At = learned.last429At
    this.concurrent429Count = learned.concurrent429Count
    this.rpm429Count = learned.rpm429Count
    this.tpm429Count = learned.tpm429Count
    this.last429Type = learned.last429Type
  }

  /** Permits held: requests dispatched on this key whose answer or stream has not ended. */
  get inflight(): number {
    return this.#permits.inflight
  }

  /** Releases of a permit already released (0 unless a caller ends one twice). */
  get duplicateReleases(): number {
    return this.#permits.duplicateReleases
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
    return Math.floor(this.#law.limit)
  }

  /** The learned limit with its fraction, as the law keeps it. */
  get learnedExact(): number {
    return this.#law.limit
  }

  /** Ĉ: the highest level the upstream is believed to accept; null before the first concurrency 429. */
  get acceptedLevel(): number | null {
    return this.#law.accepted
  }

  get last429At(): EpochMs | null {
    return this.#last429At
  }

  get lastProbeAt(): EpochMs | null {
    return this.#law.lastProbeAt
  }

  /** The limit in force: the fixed value, or floor(L). */
  get effective(): number {
    return this.#fixed ?? Math.floor(this.#law.limit)
  }

  get hasPermit(): boolean {
    return this.#permits.inflight < this.effective
  }

  /**
   * How long until this key may take another request, in the scheduler's monotonic ms: 0 now,
   * a time while a concurrency 429 holds it back, Infinity while every permit is held.
   */
  wait(now: number): number {
    return this.#permits.wait(now, this.effective)
  }

  /** A concurrency 429: hold new requests back (see PermitCounter.holdBack). */
  holdBack(until: number): void {
    this.#permits.holdBack(until)
  }

  get history(): readonly LimitAdjustment[] {
    return this.#law.history
  }

  /**
   * Takes a permit. Its release says how the request ended: a `success` is what grows an
   * adaptive limit (and tells 429 typing which levels the upstream took).
   */
  acquire(): Permit {
    return this.#permits.acquire(this.#onPermitEnd)
  }

  /**
   * A typed 429 on this key. `inflight` counts the requests in flight when the refused one was
   * sent, itself included. Every type is counted; a concurrency 429 cuts an adaptive limit.
   */
  refused(now: EpochMs, kind: RateLimitKind, inflight: number): void {
    if (kind === 'concurrent') this.concurrent429Count++
    else if (kind === 'rpm') this.rpm429Count++
    else if (kind === 'tpm') this.tpm429Count++
    this.#last429At = now
    this.last429Type = kind
    this.markChanged()
    if (kind === 'concurrent' && this.#fixed === null) this.#law.cut(now, inflight)
  }

  /**
   * The upstream accepted a request and its answer ended; `inflight` is how many were in flight
   * at that moment, this one included. Moves only an adaptive limit.
   */
  succeeded(now: EpochMs, inflight: number): void {
    if (this.#fixed === null) this.#law.succeeded(now, inflight)
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
    this.#law.reset()
    this.#last429At = null
    this.concurrent429Count = this.rpm429Count = this.tpm429Count = 0
    this.last429Type = null
    this.markChanged()
  }

  /** What to persist; `learnedLimit` is null until the law has moved L. */
  learnedState(): LearnedState {
    return {
      learnedLimit: this.#law.limit,
      acceptedLevel: this.#law.accepted,
      concurrent429Count: this.concurrent429Count,
      rpm429Count: this.rpm429Count,
      tpm429Count: this.tpm429Count,
      last429At: this.#last429At,
      last429Type: this.last429Type,
      lastProbeAt: this.#law.lastProbeAt,
      history: this.#law.history.slice(),
    }
  }

  markChanged(): void {
    this.version++
    this.onChange?.()
  }
}
