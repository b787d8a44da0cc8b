import type { BudgetPeriod } from '../../core/admit/budget.js'
import type { SpendCounters, SpendStanding } from '../spend.js'
import type { Arg, RedisConnection } from './connection.js'
import type { RedisKeys } from './keys.js'

export class RedisSpendCounters implements SpendCounters {
  constructor(
    readonly conn: RedisConnection,
    readonly keys: RedisKeys,
  ) {}

  charge(consumerId: string, period: BudgetPeriod, pico: number): Promise<SpendStanding> {
    return this.#run(consumerId, period, 'charge', Math.round(pico), 0)
  }

  read(consumerId: string, period: BudgetPeriod): Promise<SpendStanding> {
    return this.#run(consumerId, period, 'read', 0, 0)
  }

  seed(consumerId: string, period: BudgetPeriod, periodStart: number, pico: number): Promise<SpendStanding> {
    return this.#run(consumerId, period, 'seed', Math.round(pico), periodStart)
  }

  async #run(consumerId: string, period: BudgetPeriod, op: string, pico: Arg, periodStart: Arg): Promise<SpendStanding> {
    const [spentPico, start, reset] = await this.conn.run<[number, number, number]>('spend', [this.keys.spend(consumerId, period)], [period, op, pico, periodStart])
    return { spentPico, periodStart: start, resetMs: reset < 0 ? null : reset }
  }
}
