import type { ConsumerRates, RateStanding, Settlement, SettlementItem, SharedAdmitDecision, SharedLimits } from '../consumer-rates.js'
import type { RedisConnection, ScriptCall } from './connection.js'
import type { RedisKeys } from './keys.js'

const refusals = [null, 'requests', 'tokens', 'budget'] as const
/** The spend key admit reads when the consumer has no budget: never read (ARGV budget -1), but a script declares its keys. */
const noBudgetPeriod = 'total'

/** Consumer RPM, TPM and budget on Redis: one round trip to admit, one (pipelined) to settle. */
export class RedisConsumerRates implements ConsumerRates {
  constructor(
    readonly conn: RedisConnection,
    readonly keys: RedisKeys,
  ) {}

  async admit(consumerId: string, limits: SharedLimits, estimatedTokens: number): Promise<SharedAdmitDecision> {
    const budget = limits.budget ?? null
    const keys = [this.keys.consumerRequests(consumerId), this.keys.consumerTokens(consumerId), this.keys.spend(consumerId, budget?.period ?? noBudgetPeriod)]
    const r = await this.conn.run<number[]>('consumer-admit', keys, [limits.rpm ?? 0, limits.tpm ?? 0, estimatedTokens, budget === null ? -1 : Math.round(budget.limitPico)])
    const [ok, refusedBy, tooLarge, retry, rRemaining, rReset, tRemaining, tReset, spent, seeded] = r as [number, number, number, number, number, number, number, number, number, number]
    return {
      ok: ok === 1,
      refusedBy: refusals[refusedBy] ?? null,
      tooLarge: tooLarge === 1,
      retryAfterMs: retry < 0 ? null : retry,
      requests: limits.rpm === null ? null : { limit: limits.rpm, remaining: rRemaining, resetMs: rReset },
      tokens: limits.tpm === null ? null : { limit: limits.tpm, remaining: tRemaining, resetMs: tReset },
      spentPico: spent < 0 ? null : spent,
      spendSeeded: seeded < 0 ? null : seeded === 1,
    }
  }

  async settle(consumerId: string, s: Settlement): Promise<RateStanding | null> {
    const calls: ScriptCall[] = []
    const settlesTokens = this.#calls(calls, consumerId, s)
    if (calls.length === 0) return null
    const replies = await this.conn.pipeline(calls)
    if (!settlesTokens || s.tpm === null) return null
    const [remaining, resetMs] = replies[0] as [number, number]
    return { limit: s.tpm, remaining, resetMs }
  }

  async settleMany(items: readonly SettlementItem[]): Promise<readonly SettlementItem[]> {
    const calls: ScriptCall[] = []
    /** The item each call settles, by call index. */
    const owners: SettlementItem[] = []
    for (const item of items) {
      this.#calls(calls, item.consumerId, item.settlement)
      while (owners.length < calls.length) owners.push(item)
    }
    if (calls.length === 0) return []
    const results = await this.conn.pipelineEach(calls)
    const unspent: SettlementItem[] = []
    // Only the spend is owed: a TPM settlement that failed matters for a minute at most.
    results.forEach((result, i) => {
      if (result instanceof Error && (calls[i] as ScriptCall).script === 'spend') unspent.push(owners[i] as SettlementItem)
    })
    return unspent
  }

  /** Appends the script calls one settlement needs; true when the first of them settles tokens. */
  #calls(calls: ScriptCall[], consumerId: string, s: Settlement): boolean {
    const settlesTokens = s.tpm !== null && s.used !== s.charged
    if (settlesTokens) calls.push({ script: 'consumer-settle', keys: [this.keys.consumerTokens(consumerId)], args: [s.tpm as number, s.used - s.charged] })
    const pico = s.budget === null ? 0 : Math.round(s.budget.pico)
    if (s.budget !== null && pico > 0) calls.push({ script: 'spend', keys: [this.keys.spend(consumerId, s.budget.period)], args: [s.budget.period, 'charge', pico, 0] })
    return settlesTokens
  }
}
