import { Redis } from 'ioredis'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { RedisSharedState } from '../../../src/state/redis/index.js'
import { redisBackend, redisUrl, type StateCluster } from './backends.js'

// Redis only (the memory adapter cannot refuse one script of a pipeline): a settlement batch
// whose spend script fails for one consumer (here a key of the wrong type) applies the others,
// and says which one was refused, so only its cost is owed — not the whole batch's twice.

describe('settlements on Redis: a spend the script refuses', () => {
  let cluster: StateCluster
  let state: RedisSharedState
  let redis: Redis
  beforeEach(async () => {
    cluster = await redisBackend.cluster()
    state = (await cluster.instance('a')) as RedisSharedState
    redis = new Redis(redisUrl)
  })
  afterEach(async () => {
    redis.disconnect()
    await cluster.dispose()
  })

  it('is returned alone; the rest of the batch is applied', async () => {
    await redis.set(state.keys.spend('broken', 'day'), 'not a hash')
    const day = (pico: number) => ({ period: 'day' as const, pico })
    const items = [
      { consumerId: 'fine', settlement: { tpm: null, charged: 0, used: 0, budget: day(5_000) } },
      { consumerId: 'broken', settlement: { tpm: null, charged: 0, used: 0, budget: day(7_000) } },
    ]
    expect(await state.consumerRates.settleMany(items)).toEqual([items[1]])
    expect((await state.spend.read('fine', 'day')).spentPico).toBe(5_000)
  })
})
