// Budget spend per consumer and period, summed across instances. Money is integer picodollars
// as in src/core/admit/budget.ts; the period (UTC day, ISO week, month, or 'total') is worked
// out from the shared clock, so instances whose clocks disagree still charge the same period.

import type { BudgetPeriod } from '../core/admit/budget.js'

export interface SpendStanding {
  /** Picodollars spent in the current period. */
  readonly spentPico: number
  /** Epoch ms the current period started (0 for 'total'). */
  readonly periodStart: number
  /** ms until the next period starts; null for 'total'. */
  readonly resetMs: number | null
}

export interface SpendCounters {
  /** Adds a finished request's cost to the current period. */
  charge(consumerId: string, period: BudgetPeriod, pico: number): Promise<SpendStanding>
  /** What is spent in the current period. */
  read(consumerId: string, period: BudgetPeriod): Promise<SpendStanding>
  /**
   * The usage ledger's sum for the period that started at `periodStart`, written only when
   * nothing is counted yet for that period (the first instance to seed wins; charges since count).
   */
  seed(consumerId: string, period: BudgetPeriod, periodStart: number, pico: number): Promise<SpendStanding>
}
