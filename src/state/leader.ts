// One leader per name across instances (the probe leader of a provider): a lease with a
// fencing epoch (research/algorithms.md §6.2.4). This is an efficiency lock: two leaders for a
// moment cost a duplicate probe, and the epoch makes the stale one's writes refused.

export interface Leadership {
  readonly leader: boolean
  /** The epoch of the current leadership (this instance's when leader). Raised on every change of leader. */
  readonly epoch: number
  /** Leader: ms its lease has left. Not: ms until the current lease ends (0 when none). */
  readonly ttlMs: number
}

export interface LeaderInfo {
  readonly holder: string
  readonly epoch: number
  readonly ttlMs: number
}

export interface LeaderElection {
  /** Takes leadership of `name` when free or expired, or renews it when `holder` has it. */
  campaign(name: string, holder: string, ttlMs: number): Promise<Leadership>
  /** Gives it up at once (a shutdown): true when `holder` was the leader. */
  resign(name: string, holder: string): Promise<boolean>
  /** The current leader, or null when none holds a live lease. */
  current(name: string): Promise<LeaderInfo | null>
}

/** Lease of the probe leader, and how often the leader renews it: a dead leader is replaced within 15 s. */
export const leaderTtlMs = 15_000
export const leaderRenewMs = 5_000
