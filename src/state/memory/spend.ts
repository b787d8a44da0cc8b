import { nextPeriodStart, periodStart, type BudgetPeriod } from '../../core/admit/budget.js'
import type { SpendCounters, SpendStanding } from '../spend.js'
import type { MemoryBacking } from './backing.js'

/** The periods of src/core/admit/budget.ts over the backing's clock, with spend-1.lua's rules. */
export class MemorySpendCounters implements SpendCounters {
  constructor(readonly backing: MemoryBacking) {}

  async charge(consumerId: string, period: BudgetPeriod, pico: number): Promise<SpendStanding> {
    const now = this.backing.now()
    const s = this.#current(consumerId, period, now)
    if (pico > 0) s.pico += Math.round(pico)
    return standing(s, period, now)
  }

  async read(consumerId: string, period: BudgetPeriod): Promise<SpendStanding> {
    const now = this.backing.now()
    return standing(this.#current(consumerId, period, now), period, now)
  }

  /** read(), synchronously, with whether the period is seeded: what consumer-rates checks a budget against. */
  standing(consumerId: string, period: BudgetPeriod, now: number): SpendStanding & { readonly seeded: boolean } {
    const s = this.#current(consumerId, period, now)
    return { ...standing(s, period, now), seeded: s.seeded }
  }

  async seed(consumerId: string, period: BudgetPeriod, start: number, pico: number): Promise<SpendStanding> {
    const now = this.backing.now()
    const s = this.#current(consumerId, period, now)
    if (periodStart(period, start) === s.start && !s.seeded) {
      s.pico = Math.max(s.pico, Math.round(pico))
      s.seeded = true
    }
    return standing(s, period, now)
  }

  #current(consumerId: string, period: BudgetPeriod, now: number): { start: number; pico: number; seeded: boolean } {
    const id = `${consumerId}\u0000${period}`
    const current = periodStart(period, now)
    let s = this.backing.spend.get(id)
    if (s === undefined || current > s.start) {
      s = { start: current, pico: 0, seeded: false }
      this.backing.spend.set(id, s)
    }
    return s
  }
}

function standing(s: { start: number; pico: number }, period: BudgetPeriod, now: number): SpendStanding {
  const next = nextPeriodStart(period, s.start)
  return { spentPico: s.pico, periodStart: s.start, resetMs: next === null ? null : next - now }
}
