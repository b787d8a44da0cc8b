import { ConsumerLimiter, type RateLimits } from '../../core/admit/consumer-limiter.js'
import type { ConsumerRate } from '../../core/admit/consumer-rate.js'
import type { ConsumerRates, RateStanding, Settlement, SettlementItem, SharedAdmitDecision, SharedLimits } from '../consumer-rates.js'
import type { MemoryBacking } from './backing.js'
import { MemorySpendCounters } from './spend.js'

/** Today's in-process limiter (src/core/admit/consumer-limiter.ts) behind the port, with the budget read from the spend counters. */
export class MemoryConsumerRates implements ConsumerRates {
  readonly #spend: MemorySpendCounters

  constructor(readonly backing: MemoryBacking) {
    this.#spend = new MemorySpendCounters(backing)
  }

  async admit(consumerId: string, limits: SharedLimits, estimatedTokens: number): Promise<SharedAdmitDecision> {
    const now = this.backing.now()
    const limiter = this.#limiter(consumerId, limits, now)
    const budget = limits.budget ?? null
    let spentPico: number | null = null
    let spendSeeded: boolean | null = null
    if (budget !== null) {
      const spend = this.#spend.standing(consumerId, budget.period, now)
      spentPico = spend.spentPico
      spendSeeded = spend.seeded
      if (spentPico >= budget.limitPico) {
        return { ok: false, refusedBy: 'budget', tooLarge: false, retryAfterMs: spend.resetMs, requests: standing(limiter.requests, now), tokens: standing(limiter.tokens, now), spentPico, spendSeeded }
      }
    }
    const d = limiter.admit(now, estimatedTokens)
    // Copied before peek, which rewrites the rates' shared decision objects.
    const decision = { ok: d.ok, refusedBy: d.refusedBy, tooLarge: d.tooLarge, retryAfterMs: d.retryAfterMs }
    return { ...decision, requests: standing(limiter.requests, now), tokens: standing(limiter.tokens, now), spentPico, spendSeeded }
  }

  async settle(consumerId: string, s: Settlement): Promise<RateStanding | null> {
    const now = this.backing.now()
    if (s.budget !== null && s.budget.pico > 0) await this.#spend.charge(consumerId, s.budget.period, s.budget.pico)
    if (s.tpm === null || s.used === s.charged) return null
    const entry = this.backing.limiters.get(consumerId)
    const limiter = this.#limiter(consumerId, { rpm: entry?.rpm ?? null, tpm: s.tpm }, now)
    limiter.settle(now, s.charged, s.used)
    return standing(limiter.tokens, now)
  }

  async settleMany(items: readonly SettlementItem[]): Promise<readonly SettlementItem[]> {
    for (const item of items) await this.settle(item.consumerId, item.settlement)
    return []
  }

  #limiter(consumerId: string, limits: RateLimits, now: number): ConsumerLimiter {
    const entry = this.backing.limiters.get(consumerId)
    if (entry === undefined) {
      const limiter = new ConsumerLimiter(limits)
      this.backing.limiters.set(consumerId, { limiter, rpm: limits.rpm, tpm: limits.tpm })
      return limiter
    }
    if (entry.rpm !== limits.rpm || entry.tpm !== limits.tpm) {
      entry.limiter.reconfigure(now, { rpm: limits.rpm, tpm: limits.tpm })
      entry.rpm = limits.rpm
      entry.tpm = limits.tpm
    }
    return entry.limiter
  }
}

function standing(rate: ConsumerRate | null, now: number): RateStanding | null {
  if (rate === null) return null
  const d = rate.peek(now)
  return { limit: d.limit, remaining: d.remaining, resetMs: d.resetMs }
}
