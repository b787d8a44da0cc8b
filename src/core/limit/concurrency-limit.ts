import type { RateLimitKind } from '../pacer/classify-429.js'
import type { LimitAdjustment } from '../../store/types.js'
import { ConcurrencyLaw } from './concurrency-law.js'
import { nothingLearned, type EpochMs, type LearnedState } from './learned-state.js'
import { PermitCounter, type Permit, type PermitListener } from './permits.js'
import { RefusalRecord } from './refusal-record.js'

export { concurrencyDefaults, nothingLearned, type EpochMs, type LearnedState } from './learned-state.js'

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
 * (ConcurrencyLaw), the permits held against it (PermitCounter), what its 429s showed
 * (RefusalRecord), and the version the store's writer follows. Time comes in as arguments
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
  readonly #record = new RefusalRecord()
  /** A successful permit's end: evidence for 429 typing, and for the law when adaptive. */
  readonly #onPermitEnd: PermitListener = (permit, outcome, at) => {
    if (outcome !== 'success') return
    this.noteAccepted(at, permit.level)
    this.succeeded(at, this.#permits.inflight, permit.level, permit.era)
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
    this.#record.restore(learned)
  }

  get concurrent429Count(): number {
    return this.#record.concurrent429Count
  }

  get rpm429Count(): number {
    return this.#record.rpm429Count
  }

  get tpm429Count(): number {
    return this.#record.tpm429Count
  }

  get last429Type(): string | null {
    return this.#record.last429Type
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
    return this.#record.last429At
  }

  get lastProbeAt(): EpochMs | null {
    return this.#law.lastProbeAt
  }

  /** Whether the adaptive limit is still in slow start (growing × 1.5 per round of answers). */
  get slowStart(): boolean {
    return this.#law.slowStart
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

  /** The law's generation (ConcurrencyLaw.generation): what a shared limit is fenced by. */
  get generation(): number {
    return this.#law.generation
  }

  /** The key's shared state as another instance left it (ConcurrencyLaw.follow); a fixed limit ignores it. */
  follow(now: EpochMs, limit: number, accepted: number | null, generation: number, inflight: number): void {
    if (this.#fixed === null) this.#law.follow(now, limit, accepted, generation, inflight)
  }

  /**
   * Takes a permit. Its release says how the request ended: a `success` is what grows an
   * adaptive limit (and tells 429 typing which levels the upstream took).
   */
  acquire(): Permit {
    return this.#permits.acquire(this.#onPermitEnd, this.#law.era)
  }

  /**
   * A typed 429 on this key. `inflight` counts the requests in flight when the refused one was
   * sent, itself included. Every type is counted; a concurrency 429 cuts an adaptive limit.
   */
  refused(now: EpochMs, kind: RateLimitKind, inflight: number): void {
    this.#record.refused(now, kind)
    this.markChanged()
    if (kind === 'concurrent' && this.#fixed === null) this.#law.cut(now, inflight)
  }

  /**
   * The upstream accepted a request and its answer ended; `inflight` is how many were in flight
   * at that moment, this one included; `level` and `era` are its permit's (ConcurrencyLaw.succeeded).
   * Moves only an adaptive limit.
   */
  succeeded(now: EpochMs, inflight: number, level?: number, era?: number): void {
    if (this.#fixed === null) this.#law.succeeded(now, inflight, level, era)
  }

  /** A request sent while `level` were in flight (itself included) succeeded. */
  noteAccepted(now: EpochMs, level: number): void {
    this.#record.accepted(now, level)
  }

  /**
   * The highest level the upstream took at once within the last minute (0 = none): with no
   * headers to go by, a 429 at or below it is a rate limit, not a concurrency limit.
   */
  acceptedRecently(now: EpochMs): number {
    return this.#record.acceptedRecently(now)
  }

  /** Admin: fixed at `limit` requests, or adaptive again (null). What was learned is kept. */
  setFixed(limit: number | null): void {
    this.#fixed = limit
    this.markChanged()
  }

  /**
   * A reset not yet told to the other instances (state: redis): the next lease acquire offers it
   * as the key's state whatever the shared one is, and clears this once Redis took it.
   */
  resetToShare = false

  /** Admin: forget the learned limit, counters and history; the mode stays. */
  resetLearning(): void {
    this.resetToShare = true
    this.#law.reset()
    this.#record.reset()
    this.markChanged()
  }

  /** What to persist; `learnedLimit` is null until the law has moved L. */
  learnedState(): LearnedState {
    return {
      learnedLimit: this.#law.limit,
      acceptedLevel: this.#law.accepted,
      concurrent429Count: this.#record.concurrent429Count,
      rpm429Count: this.#record.rpm429Count,
      tpm429Count: this.#record.tpm429Count,
      last429At: this.#record.last429At,
      last429Type: this.#record.last429Type,
      lastProbeAt: this.#law.lastProbeAt,
      history: this.#law.history.slice(),
    }
  }

  markChanged(): void {
    this.version++
    this.onChange?.()
  }
}
