import type { BreakerRegistry, BreakerState, KeyBreaker } from '../../core/breaker/index.js'
import { every, type Clock, type Timers } from '../../core/clock.js'
import { alwaysUp, type BreakerPolicy, type BreakerView, type SharedBreakers, type StateHealth } from '../../state/index.js'
import type { ScheduledAttempt } from './scheduled-attempt.js'

// Breakers across instances (state: redis). Each instance still counts its own failures in its
// KeyBreaker (src/core/breaker/); this keeps the shared breaker in step with them, off the
// request path except for a half-open trial:
//   - a key this instance takes out is tripped in the shared breaker (a 401/403 disables it);
//   - once a second, every key's shared breaker is read (one pipelined burst): a key out there
//     and closed here is opened here too, for this breaker's own period;
//   - a half-open trial is claimed in the shared breaker beside the lease (the two calls go out
//     together: one round trip), so one instance wins it; the winner's verdict is reported there.
// The local breaker decides when a key is back (it knows the configured success_threshold): the
// shared one follows, closing on the verdict that closed the local one.

/** A trial holder that dies frees the shared trial after this long. */
const trialTtlMs = 120_000
/** How often every key's shared breaker is read. */
export const breakerSyncMs = 1_000
/** A 'released' verdict opens and closes nothing: its policy is never read. */
const releasePolicy: BreakerPolicy = { openMs: 0, maxOpenMs: 0, jitterFactor: 1, successThreshold: Number.MAX_SAFE_INTEGER }
/** A key whose shared trial another instance holds is asked again after this long (or when the shared view says). */
const trialHeldRetryMs = 1_000

export interface SharedBreakerMirrorOptions {
  readonly breakers: SharedBreakers
  readonly registry: BreakerRegistry
  readonly instanceId: string
  readonly clock: Clock
  readonly timers: Timers
  readonly rand?: () => number
  readonly onError?: (err: unknown) => void
  /** While down, the once-a-second sync is skipped (every read would only time out); it resumes, retries included, once up. */
  readonly health?: StateHealth
}

export type TrialClaim = { readonly won: true } | { readonly won: false; readonly retryMs: number }

export class SharedBreakerMirror {
  readonly #shared: SharedBreakers
  readonly #registry: BreakerRegistry
  readonly #instanceId: string
  readonly #clock: Clock
  readonly #rand: () => number
  readonly #onError: (err: unknown) => void
  readonly #health: StateHealth
  readonly #unlisten: () => void
  readonly #stopSync: () => void
  /** Breakers this instance opened because the shared one was out: not tripped back. */
  readonly #fromPeers = new WeakSet<KeyBreaker>()
  /**
   * Trial claims whose answer never came (holder → key): Redis may have applied them, and a
   * claim nobody settles holds the key's trial for trialTtlMs. Released without waiting, and
   * again at each sync until Redis answers.
   */
  readonly #unanswered = new Map<string, string>()
  /** Keys this instance took out whose trip never reached the shared breaker: sent again at each sync while still out here. */
  readonly #untold = new Set<KeyBreaker>()
  #trialSeq = 0
  #syncing = false

  constructor(opts: SharedBreakerMirrorOptions) {
    this.#shared = opts.breakers
    this.#registry = opts.registry
    this.#instanceId = opts.instanceId
    this.#clock = opts.clock
    this.#rand = opts.rand ?? Math.random
    this.#onError = opts.onError ?? (() => {})
    this.#health = opts.health ?? alwaysUp
    this.#unlisten = opts.registry.listen((b) => this.#changed(b as KeyBreaker))
    this.#stopSync = every(opts.timers, breakerSyncMs, () => void this.sync())
  }

  /** The shared half-open trial for `a` (which took the local one): won, or held elsewhere / still open there. */
  async claim(a: ScheduledAttempt): Promise<TrialClaim> {
    const holder = `${this.#instanceId}/t${++this.#trialSeq}`
    let view: BreakerView
    try {
      view = await this.#shared.claimTrial(a.breaker.id, holder, trialTtlMs)
    } catch (err) {
      // Redis away: this instance's own breaker decides.
      this.#onError(err)
      this.#unanswered.set(holder, a.breaker.id)
      this.#releaseUnanswered()
      return { won: true }
    }
    if (view.applied) {
      a.sharedTrial = holder
      return { won: true }
    }
    // Closed there: no instance took the key out, so this trial is this instance's alone.
    if (view.state === 'closed') return { won: true }
    return { won: false, retryMs: view.waitMs !== null && view.waitMs > 0 ? view.waitMs : trialHeldRetryMs }
  }

  /** An attempt that held the shared trial ended (after the local breaker judged it): tell the shared breaker how. */
  settled(a: ScheduledAttempt, now: number, succeeded: boolean): void {
    const holder = a.sharedTrial
    if (holder === null) return
    a.sharedTrial = null
    const state = a.breaker.state(now)
    const verdict = state === 'open' ? 'failure' : succeeded ? 'success' : 'released'
    // Closed here by this success: closed there with it. Not yet: counted, but not closing.
    const policy = this.#policy(a.breaker, state === 'closed' ? 1 : Number.MAX_SAFE_INTEGER)
    this.#shared.report(a.breaker.id, verdict, { trialHolder: holder }, policy).catch(this.#onError)
  }

  /** Reads every key's shared breaker; opens here the keys out there. */
  async sync(): Promise<void> {
    if (this.#syncing || !this.#health.up) return
    this.#syncing = true
    this.#releaseUnanswered()
    this.#retell()
    try {
      const all = [...this.#registry.all()]
      const views = await Promise.all(all.map((b) => this.#shared.read(b.id).catch((err: unknown) => (this.#onError(err), null))))
      const now = this.#clock.now()
      all.forEach((b, i) => {
        const view = views[i]
        if (view === null || view === undefined || (view.state !== 'open' && view.state !== 'disabled')) return
        if (b.state(now) !== 'closed') return
        this.#fromPeers.add(b)
        b.openedElsewhere(now)
      })
    } finally {
      this.#syncing = false
    }
  }

  /** Gives back every trial claim that may have been applied unseen; each is forgotten once Redis has answered. */
  #releaseUnanswered(): void {
    for (const [holder, keyId] of this.#unanswered) {
      // A 'released' verdict from the holder frees the trial and counts nothing; from anyone else it is ignored.
      this.#shared.report(keyId, 'released', { trialHolder: holder }, releasePolicy).then(
        () => this.#unanswered.delete(holder),
        this.#onError,
      )
    }
  }

  close(): void {
    this.#unlisten()
    this.#stopSync()
  }

  #changed(b: KeyBreaker): void {
    const now = this.#clock.now()
    const state = b.state(now)
    if (state === 'closed') {
      this.#fromPeers.delete(b)
      this.#untold.delete(b)
      return
    }
    if (this.#fromPeers.has(b)) return
    this.#tell(b, state)
  }

  /** Takes `b` out in the shared breaker as it is out here; a call that fails is sent again at the next sync. */
  #tell(b: KeyBreaker, state: BreakerState): void {
    let told: Promise<unknown>
    if (state === 'open') told = this.#shared.trip(b.id, this.#policy(b, b.settings.successThreshold))
    else if (state === 'disabled' && b.disabledReason === 'auth') told = this.#shared.command(b.id, { kind: 'disable', reason: 'auth', halfOpenAfterMs: b.settings.maxOpenMs })
    else return
    told.then(
      () => this.#untold.delete(b),
      (err: unknown) => {
        this.#onError(err)
        this.#untold.add(b)
      },
    )
  }

  /**
   * Trips that failed, sent again: without them a key out here and closed there would look
   * restored to a follower, or never be probed by the leader.
   */
  #retell(): void {
    if (this.#untold.size === 0) return
    const now = this.#clock.now()
    for (const b of this.#untold) {
      const state = b.state(now)
      // Half-open: its own trial decides now, and a trip would only hold that trial back.
      if (state === 'closed' || state === 'half-open' || this.#fromPeers.has(b)) this.#untold.delete(b)
      else this.#tell(b, state)
    }
  }

  /** The key's own periods; the jitter drawn here since the scripts take no randomness. */
  #policy(b: KeyBreaker, successThreshold: number): BreakerPolicy {
    const s = b.settings
    return { openMs: s.openMs, maxOpenMs: s.maxOpenMs, jitterFactor: 1 - s.jitter + 2 * s.jitter * this.#rand(), successThreshold }
  }
}
