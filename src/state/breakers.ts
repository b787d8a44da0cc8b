// A key's breaker shared by every instance: its state, when an open period ends, and who holds
// the half-open trial. The counting that decides to open (consecutive failures, the failure
// rate over a window) stays in each instance's KeyBreaker (src/core/breaker/); this is what must
// be one across instances: a key out on one instance is out on all, ten instances that each see
// the failure threshold at once open it once, and one instance wins the trial.

export type SharedBreakerState = 'closed' | 'open' | 'half-open' | 'disabled'

export interface BreakerPolicy {
  /** The first open period; doubles with each consecutive opening up to maxOpenMs. */
  readonly openMs: number
  readonly maxOpenMs: number
  /** Random factor in [1 − jitter, 1 + jitter) the caller drew for this call (the scripts take no randomness of their own). */
  readonly jitterFactor: number
  /** Consecutive trial or probe successes that close it. */
  readonly successThreshold: number
}

export interface BreakerView {
  readonly state: SharedBreakerState
  /** ms until it lets a request through: 0 now, null never by time alone (trial out, disabled). */
  readonly waitMs: number | null
  /** Consecutive openings since it last closed. */
  readonly opens: number
  /** Successes counted toward closing. */
  readonly successes: number
  readonly trialHeld: boolean
  readonly disabledReason: 'auth' | 'admin' | null
  /** Whether this call changed anything (it opened it, won the trial, counted the verdict). */
  readonly applied: boolean
}

export type TrialVerdict = 'success' | 'failure' | 'released'

export type BreakerCommand =
  | { readonly kind: 'disable'; readonly reason: 'auth' | 'admin'; readonly halfOpenAfterMs: number | null }
  | { readonly kind: 'enable' }

export interface SharedBreakers {
  /** The breaker now (open turns half-open once its period has passed). */
  read(keyId: string): Promise<BreakerView>
  /** Opens a closed breaker (this instance's counters tripped). Open, half-open or disabled: unchanged, applied false. */
  trip(keyId: string, policy: BreakerPolicy): Promise<BreakerView>
  /** Takes the half-open trial for `holder` for at most `ttlMs` (a holder that dies frees it then). applied: won. */
  claimTrial(keyId: string, holder: string, ttlMs: number): Promise<BreakerView>
  /**
   * A verdict. With `trialHolder`, the trial's own (ignored unless that holder still holds it).
   * Without, a probe's, carrying the probe leader's fencing epoch: refused (applied false) when a
   * newer leader has written here since.
   */
  report(keyId: string, verdict: TrialVerdict, from: { readonly trialHolder: string } | { readonly probeEpoch: number }, policy: BreakerPolicy): Promise<BreakerView>
  /** Admin enable/disable, and the at-once disable of an upstream 401/403. */
  command(keyId: string, command: BreakerCommand): Promise<BreakerView>
}
