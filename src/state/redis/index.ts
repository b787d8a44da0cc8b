import { newInstanceId } from '../instance-id.js'
import type { SharedState } from '../shared-state.js'
import type { RedisStateSettings } from '../settings.js'
import { RedisConnection, type TestClock } from './connection.js'
import { RedisKeys } from './keys.js'
import { RedisSharedBreakers } from './breakers.js'
import { RedisConsumerRates } from './consumer-rates.js'
import { RedisInstanceRegistry } from './instances.js'
import { RedisInvalidationBus } from './invalidation.js'
import { RedisLeaderElection } from './leader.js'
import { RedisSharedPacing } from './pacing.js'
import { RedisPermitLeases } from './permits.js'
import { RedisPinStore } from './pins.js'
import { RedisSpendCounters } from './spend.js'

export { RedisConnection, type TestClock }

export interface RedisStateOptions {
  readonly instanceId?: string
  /** Tests only: the time scripts use instead of Redis TIME. */
  readonly testClock?: TestClock
  readonly onHealth?: (up: boolean, cause: Error | null) => void
}

export interface RedisSharedState extends SharedState {
  readonly connection: RedisConnection
  readonly keys: RedisKeys
  /** Connects; rejects with StateUnavailableError when Redis cannot be reached. */
  connect(): Promise<void>
}

/** Every port on one Redis connection (plus one for SUBSCRIBE, opened on first subscribe). */
export function createRedisState(settings: RedisStateSettings, opts: RedisStateOptions = {}): RedisSharedState {
  const instanceId = opts.instanceId ?? newInstanceId()
  const connection = new RedisConnection(settings, { ...(opts.testClock ? { testClock: opts.testClock } : {}), name: `sluice:${instanceId}`, ...(opts.onHealth ? { onHealth: opts.onHealth } : {}) })
  const keys = new RedisKeys(settings.keyPrefix)
  const invalidation = new RedisInvalidationBus(connection, keys)
  return {
    kind: 'redis',
    instanceId,
    connection,
    keys,
    permits: new RedisPermitLeases(connection, keys, instanceId),
    pacing: new RedisSharedPacing(connection, keys),
    breakers: new RedisSharedBreakers(connection, keys),
    leaders: new RedisLeaderElection(connection, keys),
    consumerRates: new RedisConsumerRates(connection, keys),
    spend: new RedisSpendCounters(connection, keys),
    pins: new RedisPinStore(connection, keys),
    instances: new RedisInstanceRegistry(connection, keys),
    invalidation,
    health: connection,
    connect: () => connection.connect(),
    close: async () => {
      await invalidation.close()
      await connection.close()
    },
  }
}
