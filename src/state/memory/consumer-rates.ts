import { ConsumerLimiter, type RateLimits } from '../../core/admit/consumer-limiter.js'
import type { ConsumerRate } from '../../core/admit/consumer-rate.js'
import type { ConsumerRates, RateStanding, SharedAdmitDecision } from '../consumer-rates.js'
import type { MemoryBacking } from './backing.js'

/** Today's in-process limiter (src/core/admit/consumer-limiter.ts) behind the port. */
export class MemoryConsumerRates implements ConsumerRates {
  constructor(readonly backing: MemoryBacking) {}

  async admit(consumerId: string, limits: RateLimits, estimatedTokens: number): Promise<SharedAdmitDecision> {
    const now = this.backing.now()
    const limiter = this.#limiter(consumerId, limits, now)
    const d = limiter.admit(now, estimatedTokens)
    // Copied before peek, which rewrites the rates' shared decision objects.
    const decision = { ok: d.ok, refusedBy: d.refusedBy, tooLarge: d.tooLarge, retryAfterMs: d.retryAfterMs }
    return { ...decision, requests: standing(limiter.requests, now), tokens: standing(limiter.tokens, now) }
  }

  async settle(consumerId: string, tpm: number, charged: number, used: number): Promise<RateStanding> {
    const now = this.backing.now()
    const entry = this.backing.limiters.get(consumerId)
    const limiter = this.#limiter(consumerId, { rpm: entry?.rpm ?? null, tpm }, now)
    limiter.settle(now, charged, used)
    return standing(limiter.tokens, now) as RateStanding
  }

  #limiter(consumerId: string, limits: RateLimits, now: number): ConsumerLimiter {
    const entry = this.backing.limiters.get(consumerId)
    if (entry === undefined) {
      const limiter = new ConsumerLimiter(limits)
      this.backing.limiters.set(consumerId, { limiter, rpm: limits.rpm, tpm: limits.tpm })
      return limiter
    }
    if (entry.rpm !== limits.rpm || entry.tpm !== limits.tpm) {
      entry.limiter.reconfigure(now, limits)
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
