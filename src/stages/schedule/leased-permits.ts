import type { Deployment } from '../../config/runtime.js'
import type { Clock, Timers } from '../../core/clock.js'
import type { ConcurrencyLimit } from '../../core/limit/concurrency-limit.js'
import type { Permit, PermitOutcome } from '../../core/limit/permits.js'
import { headroom } from '../../core/pacer/adaptive-rate.js'
import { alwaysUp, LeaseKeeper, type LeasedGrant, type LeaseRef, type PermitLeases, type SharedLimit, type SharedPacing, type StateHealth } from '../../state/index.js'
import type { ScheduledAttempt } from './scheduled-attempt.js'
import type { SharedBreakerMirror } from './shared-breakers.js'

// Permits across instances (state: redis). The dispatcher stays synchronous and keeps its
// in-process count as a mirror: it grants a local permit as it always has, and this turns the
// grant into a lease on the key's shared sorted set before anything is sent — one Redis round
// trip. A refusal gives the attempt back (permit, pacer charge, breaker trial) and holds the key
// with the same gate a concurrency 429 uses (PermitCounter.holdBack): until one of this
// instance's own permits on the key ends, or the key's retry delay passes. That delay is one
// wake-up timer per key (the scheduler's Wakeups), never one per waiting request, and grows
// while the key stays full so a key held by other instances costs a bounded number of calls.

/** First and longest delay before asking again for a key every instance holds in full. */
export const leaseRetryMinMs = 10
export const leaseRetryMaxMs = 50

export interface LeasedPermitsOptions {
  readonly leases: PermitLeases
  readonly pacing: SharedPacing
  readonly clock: Clock
  readonly epoch: Clock
  readonly timers: Timers
  /** Live instances as last seen: with Redis away, each takes its share of a limit, limit ÷ this. */
  readonly liveInstances?: () => number
  /** While down, nothing here asks Redis: a call could only wait out the state timeout. */
  readonly health?: StateHealth
  /** A running request's lease had expired when renewed (Redis away for a lease's TTL). */
  readonly onLost?: (ref: LeaseRef) => void
  /** Redis could not be asked (the fallback to a share was used) or a release or renewal failed. */
  readonly onError?: (err: unknown) => void
  /** An attempt was given back (its permit, trial and pacer charge freed): wake what waits on its key. */
  readonly givenBack?: (a: ScheduledAttempt) => void
  /** Shared half-open trials (state: redis); null leaves trials to each instance's breaker. */
  readonly trials?: SharedBreakerMirror | null
  /** Overrides the lease TTL and renewal period (tests). */
  readonly ttlMs?: number
  readonly renewEveryMs?: number
}

export class LeasedPermits {
  readonly #keeper: LeaseKeeper
  readonly #clock: Clock
  readonly #epoch: Clock
  readonly #liveInstances: () => number
  readonly #health: StateHealth
  readonly #onError: (err: unknown) => void
  readonly #trials: SharedBreakerMirror | null
  readonly #pacing: SharedPacing
  readonly #givenBack: (a: ScheduledAttempt) => void
  /** Retry delay per key while every instance's permits are held; absent once a lease is granted. */
  readonly #retryMs = new Map<ConcurrencyLimit, number>()

  constructor(opts: LeasedPermitsOptions) {
    this.#clock = opts.clock
    this.#epoch = opts.epoch
    this.#liveInstances = opts.liveInstances ?? (() => 1)
    this.#health = opts.health ?? alwaysUp
    this.#onError = opts.onError ?? (() => {})
    this.#trials = opts.trials ?? null
    this.#pacing = opts.pacing
    this.#givenBack = opts.givenBack ?? (() => {})
    this.#keeper = new LeaseKeeper(opts.leases, {
      timers: opts.timers,
      onError: this.#onError,
      ...(opts.onLost ? { onLost: opts.onLost } : {}),
      ...(opts.ttlMs !== undefined ? { ttlMs: opts.ttlMs } : {}),
      ...(opts.renewEveryMs !== undefined ? { renewEveryMs: opts.renewEveryMs } : {}),
    })
    this.#keeper.start()
  }

  /** Leases this instance holds now. */
  get held(): number {
    return this.#keeper.held
  }

  /**
   * Makes `a`'s local permit a lease across instances. True: send it (its permit now ends the
   * lease too). False: the attempt was given back whole; requeue the request (or, when its
   * client has gone, drop it).
   */
  async confirm(a: ScheduledAttempt, clientGone: () => boolean, admission: Promise<void> | null = null): Promise<boolean> {
    const limit = (a.deployment as Deployment).limit
    // The caller's admission, sent a moment ago: its answer comes back with the lease's.
    const admitted = admission === null ? null : admission.then(() => null, (err: unknown) => err)
    if (!this.#health.up) {
      // Shared state down: this instance alone decides, within its share of the limit (as the
      // catch below), its own pacer and breaker judge the rest — at once, not after a call that
      // could only time out. (An admission sent just before it went down falls back by itself.)
      const refused = admitted === null ? null : await admitted
      if (refused !== null) {
        this.#giveBack(a, limit, null)
        throw refused
      }
      if (!this.#withinShare(limit)) return this.#giveBack(a, limit, this.#nextRetry(limit))
      return clientGone() ? this.#giveBack(a, limit, null) : true
    }
    const local = a.permit
    // A half-open trial is claimed in the shared breaker beside the lease: both go out together.
    const claiming = a.trial && this.#trials !== null ? this.#trials.claim(a) : null
    // And the key's shared pace, at the rate this instance's pacer has learned (also beside it).
    const pacing = this.#pace(a)
    let lease: Permit | null
    let grant: LeasedGrant | null = null
    // A reset offered with this acquire is everyone's once Redis answered it (not one offered later).
    const resetting = limit.resetToShare
    try {
      grant = await this.#keeper.acquire(limit.id, limit.adaptive ? learnedOffer(limit) : limit.effective)
      lease = grant.permit
    } catch (err) {
      // Redis away: this instance alone decides, within its share of the limit.
      this.#onError(err)
      lease = this.#withinShare(limit) ? local : null
    }
    if (grant !== null && limit.adaptive) {
      if (resetting) limit.resetToShare = false
      const shared = grant.shared
      limit.follow(this.#epoch.now(), shared.limit, shared.accepted, shared.generation, grant.inUse)
    }
    const claim = claiming === null ? null : await claiming
    const paced = pacing === null ? 0 : await pacing
    if (lease !== null && lease !== local) a.permit = new MirroredPermit(local, lease, limit)
    const refused = admitted === null ? null : await admitted
    if (refused !== null) {
      // The caller may not send this now: everything this try took goes back, and it hears why.
      if (pacing !== null && paced === 0) this.#unpace(a)
      this.#giveBack(a, limit, null)
      throw refused
    }
    if (lease === null || (claim !== null && !claim.won)) {
      // Its place on the shared schedule goes back: another instance may use it now.
      if (pacing !== null && paced === 0) this.#unpace(a)
      return this.#giveBack(a, limit, lease === null ? this.#nextRetry(limit) : (claim as { retryMs: number }).retryMs)
    }
    if (paced > 0) return this.#giveBack(a, limit, paced)
    this.#retryMs.delete(limit)
    if (!clientGone()) return true
    if (pacing !== null) this.#unpace(a)
    return this.#giveBack(a, limit, null)
  }

  /** Redis away: whether the key's permits here stay within this instance's share of its limit (limit ÷ live instances, at least 1). */
  #withinShare(limit: ConcurrencyLimit): boolean {
    return limit.inflight <= Math.max(1, Math.floor(limit.effective / Math.max(1, this.#liveInstances())))
  }

  /** Ends the renewals (shutdown); leases still held expire by themselves. */
  close(): void {
    this.#keeper.stop()
  }

  /**
   * ms until the key's shared schedule lets this attempt go (0: it took its place), or null when
   * neither dimension has a configured limit. Redis away: 0, the local pacer alone decides.
   */
  #pace(a: ScheduledAttempt): Promise<number> | null {
    // The configured ceilings, and the limits the upstream's headers state: both are the key's
    // whole limit, whichever instance read them, so one instance's headers pace every instance.
    // What an instance learned without headers (a retreat, an estimate from its own successes)
    // measures its own share of the traffic, and would hold every instance to that share: it
    // stays with that instance's pacer.
    const { requests, tokens } = a.pacer
    const rpm = headroom * Math.min(requests.ceiling, requests.statedLimit)
    const tpm = headroom * Math.min(tokens.ceiling, tokens.statedLimit)
    if (rpm === Infinity && tpm === Infinity) return null
    const requestInterval = rpm === Infinity ? 0 : 60_000 / rpm
    const tokenInterval = tpm === Infinity ? 0 : 60_000 / tpm
    a.sharedPace = [requestInterval, tokenInterval]
    return this.#pacing.take(a.pacer.id, requestInterval, tokenInterval, a.tokens).then(
      (grant) => (grant.granted ? 0 : Math.max(1, grant.waitMs)),
      (err: unknown) => {
        this.#onError(err)
        return 0
      },
    )
  }

  #unpace(a: ScheduledAttempt): void {
    const [requestInterval, tokenInterval] = a.sharedPace ?? [0, 0]
    this.#pacing.refund(a.pacer.id, requestInterval, tokenInterval, a.tokens).catch(this.#onError)
  }

  /**
   * An attempt ended (state: redis): a rate 429 that paused this instance's pacer pauses the
   * key's shared schedule as long, so the other instances do not run into the same 429.
   */
  settled(a: ScheduledAttempt, now: number): void {
    if (a.upstreamStatus !== 429 || (a.refusal !== 'rpm' && a.refusal !== 'tpm' && a.refusal !== 'unknown')) return
    const pausedFor = Math.max(a.pacer.requests.pauseUntil, a.pacer.tokens.pauseUntil) - now
    if (pausedFor > 0) this.#pacing.pause(a.pacer.id, pausedFor).catch(this.#onError)
  }

  /** The key's retry delay now, doubled for next time (up to leaseRetryMaxMs). */
  #nextRetry(limit: ConcurrencyLimit): number {
    const retry = this.#retryMs.get(limit) ?? leaseRetryMinMs
    this.#retryMs.set(limit, Math.min(leaseRetryMaxMs, retry * 2))
    return retry
  }

  /**
   * Undoes the dispatch of an attempt that will not be sent (its lease too, when it got one);
   * `holdMs`: hold the key that long, or until a local release (null: the client left, nothing to hold).
   */
  #giveBack(a: ScheduledAttempt, limit: ConcurrencyLimit, holdMs: number | null): false {
    const now = this.#clock.now()
    // Before the release: the gate counts this attempt's release as a refused one (no slot freed).
    if (holdMs !== null) limit.holdBack(now + holdMs)
    a.permit.release('ignore', this.#epoch.now())
    a.breaker.released(now, a.trial)
    this.#trials?.settled(a, now, false)
    a.pacer.settled(now, { dispatchedAt: a.dispatchedAt, status: 0, tokensCharged: a.tokens, tokensUsed: 0 })
    a.pacer.requests.adjust(now, -1)
    this.#givenBack(a)
    return false
  }
}

/**
 * What this instance's law has learned of the key, offered as the key's shared limit: one key has
 * one limit however many instances judge it, moved by whichever of them sees cause, and each
 * instance's law follows the one the lease was judged by (ConcurrencyLaw.follow).
 */
function learnedOffer(limit: ConcurrencyLimit): SharedLimit {
  return { limit: limit.effective, accepted: limit.acceptedLevel, generation: limit.generation, reset: limit.resetToShare }
}

/**
 * A local permit and its lease, ending together. Its level is every instance's count at grant,
 * so the law and 429 typing judge the key's real concurrency; a success feeds the law with it
 * here, the local permit ending as `ignore` so its own (one-instance) level is not counted too.
 */
class MirroredPermit implements Permit {
  released = false

  constructor(
    readonly local: Permit,
    readonly lease: Permit,
    readonly limit: ConcurrencyLimit,
  ) {}

  get level(): number {
    return this.lease.level
  }

  get era(): number | undefined {
    return this.local.era
  }

  release(outcome: PermitOutcome, at: number): boolean {
    if (this.released) return false
    this.released = true
    if (outcome === 'success') {
      this.limit.noteAccepted(at, this.level)
      this.limit.succeeded(at, this.level, this.level, this.era)
    }
    this.local.release('ignore', at)
    this.lease.release(outcome, at)
    return true
  }
}
