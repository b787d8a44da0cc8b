import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { createMemoryState, MemoryBacking } from '../../../src/state/memory/index.js'
import { createRedisState, type RedisSharedState } from '../../../src/state/redis/index.js'
import { parseRedisUrl } from '../../../src/state/settings.js'
import type { SharedState } from '../../../src/state/shared-state.js'

// The two adapters every shared-state suite runs on. Redis is required, not optional: when it
// is unreachable these suites fail. Each test gets a fresh key prefix and deletes only its own
// keys afterwards (never FLUSHALL: the Redis on 6379 is shared).
//
// Time. Both adapters read the same hand-moved wall clock: memory through its clock function,
// Redis through the test clock its scripts use instead of TIME. A 30 s lease expires by
// stepping 30 s, exactly, with no waiting. (Redis's own PEXPIREs, which only collect garbage,
// still run on real time: tests use real-sized TTLs so none fires during a test.)

export const redisUrl = process.env.SLUICE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0'

export interface StateCluster {
  /** One more instance over the same shared state. */
  instance(id?: string): Promise<SharedState>
  /** Moves the shared clock forward. */
  advance(ms: number): void
  /**
   * Runs `fn` and returns the Redis round trips `state` made during it (0 in memory: nothing
   * leaves the process).
   */
  roundTrips(state: SharedState, fn: () => Promise<unknown>): Promise<number>
  dispose(): Promise<void>
}

export interface StateBackend {
  readonly name: 'memory' | 'redis'
  cluster(): Promise<StateCluster>
  /** What an ordinary operation costs in round trips on this backend: 0 in memory, `n` on Redis. */
  trips(n: number): number
}

let nextInstance = 1
export const startOfTests = Date.UTC(2027, 0, 15, 12, 0, 0)

export const memoryBackend: StateBackend = {
  name: 'memory',
  trips: () => 0,
  async cluster() {
    let now = startOfTests
    const backing = new MemoryBacking(() => now)
    return {
      instance: async (id) => createMemoryState({ backing, instanceId: id ?? `i${nextInstance++}` }),
      advance(ms) {
        now += ms
      },
      async roundTrips(_state, fn) {
        await fn()
        return 0
      },
      async dispose() {},
    }
  },
}

export const redisBackend: StateBackend = {
  name: 'redis',
  trips: (n) => n,
  async cluster() {
    const prefix = `sluice-test:${randomBytes(6).toString('hex')}:`
    const settings = parseRedisUrl(redisUrl, { keyPrefix: prefix, commandTimeoutMs: 2000 })
    const testClock = { nowMs: startOfTests }
    const open: RedisSharedState[] = []
    return {
      async instance(id) {
        const state = createRedisState(settings, { instanceId: id ?? `i${nextInstance++}`, testClock })
        open.push(state)
        await state.connect()
        return state
      },
      advance(ms) {
        testClock.nowMs += ms
      },
      async roundTrips(state, fn) {
        const conn = (state as RedisSharedState).connection
        const before = conn.roundTrips
        await fn()
        return conn.roundTrips - before
      },
      async dispose() {
        await Promise.all(open.map((s) => s.close()))
        await deletePrefix(prefix)
      },
    }
  },
}

export const backends = [memoryBackend, redisBackend]

/** Deletes the keys under `prefix`, and only those. */
export async function deletePrefix(prefix: string, url = redisUrl): Promise<void> {
  const admin = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 })
  try {
    await admin.connect()
    let cursor = '0'
    do {
      const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500)
      cursor = next
      if (keys.length > 0) await admin.unlink(...keys)
    } while (cursor !== '0')
  } finally {
    admin.disconnect()
  }
}

/** Keys under `prefix` still in Redis (to check that what expires is gone). */
export async function keysUnder(prefix: string, url = redisUrl): Promise<string[]> {
  const admin = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 })
  try {
    await admin.connect()
    return await admin.keys(`${prefix}*`)
  } finally {
    admin.disconnect()
  }
}
