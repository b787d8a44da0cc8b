import { mayEject, type GroupMember } from './ejection-cap.js'
import { OutcomeWindow } from './outcome-window.js'
import { hardFailures, type BreakerSettings, type BreakerState, type DisableReason, type HealthFailure } from './types.js'

// One upstream key's circuit breaker (DESIGN.md §6 "Failover", research/algorithms.md §5.3).
//
//   closed ──(a run of failures, or failureRate of ≥ minRequests in windowMs; see below)──► open
//   closed ──(a refused connection: hard evidence)──► open, at once
//   open ──(openUntil passed; seen lazily)──► half-open ──(one trial at a time)──┐
//     ▲                                           │ successThreshold successes   │
//     └──────── a trial (or probe) fails ◄────────┘ in a row ──► closed ◄────────┘
//   open / half-open / disabled 'auth' ──(successThreshold probe passes in a row)──► closed
//   any ──disable()──► disabled ('admin': only enable() ends it)
//
// When a closed key trips (outlier detection as Envoy does it): failureRate of the window's
// outcomes once it holds minRequests of them, or a run of consecutive failures at least
// failureThreshold long and, with more volume, as long as the longest run a key failing at
// failureRate would show by chance among the window's outcomes (log n / log(1/failureRate)):
// at volume the rate decides, and a few unlucky answers in a row do not. A soft trip takes the
// key out only within the ejection cap of every model it serves (ejection-cap.ts); refused, the
// key is demoted instead for an open period — in service, used only when no sibling can take
// the request — and a later trip takes it out once a sibling is back.
//
// Pure: time comes in as `now` (monotonic ms) and randomness as `rand`. The per-request calls
// (state, wait, dispatched, succeeded, failed, released) allocate nothing.
//
// Which reports count. Requests run long (streams): one dispatched while the key was closed may
// answer after it opened. Only the state a report arrives in decides what it means:
// - closed: every success and failure counts, whatever the trial flag says;
// - half-open: only the trial's verdict counts — other requests were sent before the key went
//   out and describe the upstream as it was then;
// - open and disabled: nothing counts, except that a trial's report frees the trial.
// The trial flag is cleared only by the trial's own report (or released()), never by a state
// change: a trial still running upstream when its half-open period ended is still a request on
// a doubtful key, and letting another trial go beside it would put two there.

export class KeyBreaker {
  /** Called after every state transition, with the breaker. Single listener slot; the registry fans out. */
  onChange: ((b: KeyBreaker) => void) | null = null
  #settings: BreakerSettings
  readonly #rand: () => number
  readonly #window: OutcomeWindow
  #state: BreakerState = 'closed'
  /** When an open breaker turns half-open; -Infinity when not open. */
  #openUntil = -Infinity
  #opens = 0
  #failures = 0
  #successes = 0
  #trialOut = false
  #disabledReason: DisableReason | null = null
  /** When it was disabled: an auth-disabled key without probes half-opens maxOpenMs later. */
  #disabledAt = -Infinity
  #lastFailureKind: HealthFailure | null = null
  #lastFailureAt: number | null = null
  /** Until when a trip refused by the ejection cap keeps it demoted (only meaningful while closed). */
  #demotedUntil = -Infinity
  /** The keys of each model this one serves, for the ejection cap. */
  #groups: readonly (readonly GroupMember[])[] = []

  constructor(
    readonly id: string,
    readonly provider: string,
    readonly key: string,
    settings: BreakerSettings,
    rand: () => number = Math.random,
  ) {
    this.#settings = settings
    this.#rand = rand
    this.#window = new OutcomeWindow(settings.windowMs)
  }

  /**
   * A config reload: the state, counters and open period in force are kept. A new windowMs
   * empties the window; a change of `probes` applies to an auth-disabled key at once (turned
   * off, the key half-opens maxOpenMs after it was disabled, which may already be past).
   */
  configure(settings: BreakerSettings): void {
    this.#settings = settings
    this.#window.resize(settings.windowMs)
  }

  /** The groups (one per model it serves) whose cap a soft ejection must respect; set by the registry on every compile. */
  joinGroups(groups: readonly (readonly GroupMember[])[]): void {
    this.#groups = groups
  }

  /** What it was configured with (a shared breaker across instances opens for the same periods). */
  get settings(): BreakerSettings {
    return this.#settings
  }

  /** Out of service (open, half-open or disabled), as last seen: what the ejection cap counts. */
  get out(): boolean {
    return this.#state !== 'closed'
  }

  /** Closed but demoted by the ejection cap: in service, taken only when no other key can take the request. */
  demoted(now: number): boolean {
    return now < this.#demotedUntil
  }

  /** When a demotion by the ejection cap ends; -Infinity when it was never demoted or went out since. */
  get demotedUntil(): number {
    return this.#demotedUntil
  }

  state(now: number): BreakerState {
    this.#advance(now)
    return this.#state
  }

  /** ms until it can let a request through: 0 now; open: until openUntil; half-open with its trial out, or disabled: Infinity (an auth-disabled key without probes: until it half-opens). */
  wait(now: number): number {
    this.#advance(now)
    switch (this.#state) {
      case 'closed':
        return 0
      case 'half-open':
        return this.#trialOut ? Infinity : 0
      case 'open':
        return this.#openUntil - now
      case 'disabled':
        return this.#timedAuth() ? this.#disabledAt + this.#settings.maxOpenMs - now : Infinity
    }
  }

  /** A request was dispatched on this key. True when it took the half-open trial: the caller passes that back at the end. */
  dispatched(now: number): boolean {
    this.#advance(now)
    if (this.#state !== 'half-open' || this.#trialOut) return false
    this.#trialOut = true
    return true
  }

  succeeded(now: number, trial: boolean): void {
    this.#advance(now)
    if (trial) this.#trialOut = false
    if (this.#state === 'closed') {
      this.#failures = 0
      this.#window.record(now, false)
      // The rate is a property of the window, checked after every outcome: a success that
      // brings the window to minRequests can find it already past the rate.
      if (this.#rateTripped(now)) this.#eject(now)
    } else if (this.#state === 'half-open' && trial) {
      this.#countSuccess()
    }
  }

  failed(now: number, kind: HealthFailure, trial: boolean): void {
    this.#advance(now)
    if (trial) this.#trialOut = false
    if (this.#state === 'closed') {
      this.#noteFailure(now, kind)
      this.#window.record(now, true)
      if (hardFailures.has(kind)) this.#open(now)
      else if (this.#rateTripped(now) || this.#failures >= consecutiveThreshold(this.#settings, this.#window.outcomes)) this.#eject(now)
    } else if (this.#state === 'half-open' && trial) {
      this.#noteFailure(now, kind)
      this.#open(now)
    }
  }

  /** Ended with no verdict (a 429, a client 4xx, a client abort): frees the trial, counts nothing. */
  released(now: number, trial: boolean): void {
    this.#advance(now)
    if (trial) this.#trialOut = false
  }

  /**
   * Out at once: 'auth' (upstream 401/403) until probes pass — or, without probes, until
   * maxOpenMs have passed and a half-open trial succeeds; 'admin' until enable(). 'admin' wins
   * over 'auth'; a second 'auth' (a request sent before the first 401 answered) does not
   * restart the period.
   */
  disable(now: number, reason: DisableReason): void {
    if (this.#state === 'disabled' && (reason === 'auth' || this.#disabledReason === 'admin')) return
    this.#state = 'disabled'
    this.#demotedUntil = -Infinity
    this.#disabledReason = reason
    this.#disabledAt = now
    this.#openUntil = -Infinity
    this.#successes = 0
    this.onChange?.(this)
  }

  /** Admin enable: closed, counters and doubling reset. The last failure's kind and time stay as history. */
  enable(_now: number): void {
    const was = this.#state
    this.#reset()
    if (was !== 'closed') this.onChange?.(this)
  }

  /**
   * Another instance took this key out (state: redis): out here too, for this breaker's own
   * open period, so no instance keeps sending to a key the others found failing. A key already
   * out here is left as it is.
   */
  openedElsewhere(now: number): void {
    this.#advance(now)
    if (this.#state !== 'closed') return
    this.#open(now)
  }

  /** A probe passed: one success toward successThreshold, from open, half-open or auth-disabled. */
  probePassed(now: number): void {
    this.#advance(now)
    if (!this.#probeable()) return
    this.#countSuccess()
  }

  /**
   * A probe failed: the successes counted toward closing start over. While open the period
   * stands as it is. While half-open it re-opens, with the doubled period, as a failed trial
   * does: the key is evidently still failing, and half-open would send it a real request next.
   */
  probeFailed(now: number, kind: HealthFailure): void {
    this.#advance(now)
    if (!this.#probeable()) return
    this.#noteFailure(now, kind)
    if (this.#state === 'half-open') this.#open(now)
  }

  /** True while open, half-open or auth-disabled and this key has probes: what active probes are for. */
  wantsProbe(now: number): boolean {
    this.#advance(now)
    return this.#settings.probes && this.#probeable()
  }

  get consecutiveFailures(): number {
    return this.#failures
  }

  get lastFailureKind(): HealthFailure | null {
    return this.#lastFailureKind
  }

  /** The `now` of the last counted failure (trial, probe or closed-state failure). */
  get lastFailureAt(): number | null {
    return this.#lastFailureAt
  }

  /** When it turns half-open: set while open, and while auth-disabled without probes; -Infinity otherwise. */
  get openUntil(): number {
    if (this.#state === 'open') return this.#openUntil
    return this.#timedAuth() ? this.#disabledAt + this.#settings.maxOpenMs : -Infinity
  }

  /** Times opened since it last closed: the open period doubles with each. */
  get opens(): number {
    return this.#opens
  }

  get disabledReason(): DisableReason | null {
    return this.#disabledReason
  }

  /** Consecutive successes (trials and probe passes) counted toward closing. */
  get successes(): number {
    return this.#successes
  }

  get trialOut(): boolean {
    return this.#trialOut
  }

  /** Takes the lazy transitions whose time has come: open → half-open, and auth-disabled without probes → half-open. */
  #advance(now: number): void {
    if (this.#state === 'open') {
      if (now >= this.#openUntil) this.#halfOpen()
    } else if (this.#state === 'disabled' && this.#timedAuth()) {
      if (now >= this.#disabledAt + this.#settings.maxOpenMs) this.#halfOpen()
    }
  }

  /** Disabled by a 401/403 with no probes to restore it: it behaves as open for maxOpenMs. */
  #timedAuth(): boolean {
    return this.#state === 'disabled' && this.#disabledReason === 'auth' && !this.#settings.probes
  }

  /** Out of service in a way a probe can end. */
  #probeable(): boolean {
    return this.#state === 'open' || this.#state === 'half-open' || (this.#state === 'disabled' && this.#disabledReason === 'auth')
  }

  /** A soft trip: out if every model it serves can spare it, else demoted for an open period (renewed by each trip). */
  #eject(now: number): void {
    const s = this.#settings
    if (mayEject(this, this.#groups, s.maxEjectionPercent)) return this.#open(now)
    this.#demotedUntil = now + s.openMs * (1 - s.jitter + 2 * s.jitter * this.#rand())
  }

  /** Tallies the window (so `outcomes` is current) and checks its failure rate. */
  #rateTripped(now: number): boolean {
    const w = this.#window
    w.tally(now)
    return w.outcomes >= this.#settings.minRequests && w.failures / w.outcomes >= this.#settings.failureRate
  }

  #noteFailure(now: number, kind: HealthFailure): void {
    this.#failures++
    this.#successes = 0
    this.#lastFailureKind = kind
    this.#lastFailureAt = now
  }

  #countSuccess(): void {
    this.#failures = 0
    this.#successes++
    if (this.#successes < this.#settings.successThreshold) return
    this.#reset()
    this.onChange?.(this)
  }

  /** Opens for min(maxOpenMs, openMs × 2^(opens − 1)) × a jitter factor, so keys that failed together do not all come back at once. */
  #open(now: number): void {
    const s = this.#settings
    this.#opens++
    // The exponent is capped so a long run of openings cannot reach 0 × Infinity = NaN.
    const base = Math.min(s.maxOpenMs, s.openMs * 2 ** Math.min(this.#opens - 1, 40))
    const factor = 1 - s.jitter + 2 * s.jitter * this.#rand()
    this.#state = 'open'
    this.#openUntil = now + base * factor
    this.#demotedUntil = -Infinity
    this.#successes = 0
    this.#disabledReason = null
    this.#disabledAt = -Infinity
    this.onChange?.(this)
  }

  /** Probe passes counted while open or disabled carry over: they are consecutive successes still. */
  #halfOpen(): void {
    this.#state = 'half-open'
    this.#openUntil = -Infinity
    this.#disabledReason = null
    this.#disabledAt = -Infinity
    this.onChange?.(this)
  }

  /** Closed, with counters, the window and the doubling reset (not the trial flag: see the top). */
  #reset(): void {
    this.#state = 'closed'
    this.#openUntil = -Infinity
    this.#opens = 0
    this.#failures = 0
    this.#successes = 0
    this.#disabledReason = null
    this.#disabledAt = -Infinity
    this.#demotedUntil = -Infinity
    this.#window.clear()
  }
}

/**
 * The run of consecutive failures that trips a key whose window holds `outcomes`:
 * failureThreshold, or with volume the longest run a key failing at failureRate shows by chance
 * among that many outcomes (the longest run of a p-coin in n tosses is about log n / log(1/p)).
 */
export function consecutiveThreshold(s: BreakerSettings, outcomes: number): number {
  if (s.failureRate >= 1 || outcomes <= 1) return s.failureThreshold
  return Math.max(s.failureThreshold, Math.ceil(Math.log(outcomes) / -Math.log(s.failureRate)))
}
