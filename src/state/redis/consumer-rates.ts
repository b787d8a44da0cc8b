import type { RateLimits } from '../../core/admit/consumer-limiter.js'
import type { ConsumerRates, RateStanding, SharedAdmitDecision } from '../consumer-rates.js'
import type { RedisConnection } from './connection.js'
import type { RedisKeys } from './keys.js'

/** Consumer RPM/TPM on Redis: one round trip to admit, one to settle. */
export class RedisConsumerRates implements ConsumerRates {
  constructor(
    readonly conn: RedisConnection,
    readonly keys: RedisKeys,
  ) {}

  async admit(consumerId: string, limits: RateLimits, estimatedTokens: number): Promise<SharedAdmitDecision> {
    const r = await this.conn.run<number[]>('consumer-admit', [this.keys.consumerRequests(consumerId), this.keys.consumerTokens(consumerId)], [limits.rpm ?? 0, limits.tpm ?? 0, estimatedTokens])
    const [ok, refusedBy, tooLarge, retry, rRemaining, rReset, tRemaining, tReset] = r as [number, number, number, number, number, number, number, number]
    return {
      ok: ok === 1,
      refusedBy: refusedBy === 1 ? 'requests' : refusedBy === 2 ? 'tokens' : null,
      tooLarge: tooLarge === 1,
      retryAfterMs: retry < 0 ? null : retry,
      requests: limits.rpm === null ? null : { limit: limits.rpm, remaining: rRemaining, resetMs: rReset },
      tokens: limits.tpm === null ? null : { limit: limits.tpm, remaining: tRemaining, resetMs: tReset },
    }
  }

  async settle(consumerId: string, tpm: number, charged: number, used: number): Promise<RateStanding> {
    const [remaining, resetMs] = await this.conn.run<[number, number]>('consumer-settle', [this.keys.consumerTokens(consumerId)], [tpm, used - charged])
    return { limit: tpm, remaining, resetMs }
  }
}
