// A consumer's RPM, TPM and budget counted across every instance, with the integer GCRA of
// src/core/admit/consumer-rate.ts (burst = the whole limit, state kept as backlog × window so
// every boundary is exact) run in one script: the budget is checked first, then both rate
// dimensions are checked and taken together, and the x-ratelimit-* headers count every
// instance's requests. One round trip to admit, one to settle.

import type { BudgetPeriod } from '../core/admit/budget.js'
import type { LimitDimension, RateLimits } from '../core/admit/consumer-limiter.js'

/** One dimension's standing after the call, as the x-ratelimit-* headers give it. */
export interface RateStanding {
  readonly limit: number
  readonly remaining: number
  /** ms until the bucket is full again. */
  readonly resetMs: number
}

/** A consumer's budget as admit checks it: the spend of the current period against the limit. */
export interface SharedBudget {
  readonly period: BudgetPeriod
  /** The limit in picodollars (src/core/admit/budget.ts): a request is refused once the spend reaches it. */
  readonly limitPico: number
}

/** What admit checks: RPM and TPM (null: no limit), and the budget when there is one. */
export interface SharedLimits extends RateLimits {
  readonly budget?: SharedBudget | null
}

export interface SharedAdmitDecision {
  readonly ok: boolean
  readonly refusedBy: LimitDimension | 'budget' | null
  readonly tooLarge: boolean
  /** ok: 0. Refused: ms until a retry can succeed. null when none can (tooLarge, a spent 'total' budget). */
  readonly retryAfterMs: number | null
  /** null when that dimension has no limit. */
  readonly requests: RateStanding | null
  readonly tokens: RateStanding | null
  /** Picodollars spent in the budget's current period, every instance's; null without a budget. */
  readonly spentPico: number | null
  /**
   * Whether that spend holds the usage ledger's sum for the period (SpendCounters.seed): false
   * in a new period or after Redis lost it, and then the caller seeds it. null without a budget.
   */
  readonly spendSeeded: boolean | null
}

/** What a finished request settles: its tokens against the TPM, its cost against the budget. */
export interface Settlement {
  /** The TPM in force; null: no TPM, nothing to settle. */
  readonly tpm: number | null
  /** Tokens admit charged (the estimate). */
  readonly charged: number
  /** Tokens the request really used (0 when it never reached the upstream). */
  readonly used: number
  /** The cost to add to the budget's current period; null: no budget. */
  readonly budget: { readonly period: BudgetPeriod; readonly pico: number } | null
}

export interface ConsumerRates {
  /**
   * One request estimated at `estimatedTokens`. Refused for the budget when its period's spend
   * has reached the limit (nothing taken); else taken from both rates when both fit, else
   * nothing is taken.
   */
  admit(consumerId: string, limits: SharedLimits, estimatedTokens: number): Promise<SharedAdmitDecision>
  /**
   * Settles tokens once usage is known (`used − charged`: negative gives back, never below
   * empty) and charges the cost to the budget, in one round trip (none when there is nothing to
   * settle). Returns the TPM standing when tokens were settled (a TPM, and used ≠ charged), else null.
   */
  settle(consumerId: string, settlement: Settlement): Promise<RateStanding | null>
  /**
   * Several settlements (any consumers) in one round trip, none when there is nothing to settle.
   * Resolves with the items whose cost the shared spend refused (a script error: the others
   * were applied), so that only theirs is owed; rejects when none could be sent.
   */
  settleMany(items: readonly SettlementItem[]): Promise<readonly SettlementItem[]>
}

export interface SettlementItem {
  readonly consumerId: string
  readonly settlement: Settlement
}
