import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { BreakerRegistry, defaultBreakerSettings } from '../../../src/core/breaker/index.js'
import { SharedBreakerMirror } from '../../../src/stages/schedule/shared-breakers.js'
import type { ScheduledAttempt } from '../../../src/stages/schedule/scheduled-attempt.js'
import { StateUnavailableError } from '../../../src/state/errors.js'
import { failuresToDown } from '../../../src/state/redis/health-signal.js'
import { openSharedState } from '../../../src/state/index.js'
import { createRedisState, type RedisSharedState } from '../../../src/state/redis/index.js'
import { parseRedisUrl } from '../../../src/state/settings.js'
import { FakeTime } from '../../support/fake-time.js'
import { freePort, PrivateRedis } from '../../support/private-redis.js'

// The Redis adapter when Redis goes away. A private redis-server on a free port, started and
// stopped by this test (never the shared one on 6379). Every call must fail fast — within the
// state timeout — with StateUnavailableError, health must say down, and everything must work
// again by itself once Redis is back (scripts reloaded on the new server).

const commandTimeoutMs = 200
/** Fail fast: the timeout, plus room for a loaded machine. Far below anything a client would notice as a hang. */
const fastMs = commandTimeoutMs + 800

let redis: PrivateRedis
let port: number

/** Resolves on the next health change to `up`, or fails after `ms`. */
function healthBecomes(state: RedisSharedState, up: boolean, ms: number): Promise<void> {
  if (state.health.up === up) return Promise.resolve()
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off()
      reject(new Error(`health did not become ${up ? 'up' : 'down'} within ${ms} ms`))
    }, ms)
    const off = state.health.onChange((now) => {
      if (now !== up) return
      clearTimeout(timer)
      off()
      resolve()
    })
  })
}

/** How a call ended and how long it took. */
async function timed(fn: () => Promise<unknown>): Promise<{ error: unknown; ms: number }> {
  const started = performance.now()
  try {
    await fn()
    return { error: null, ms: performance.now() - started }
  } catch (error) {
    return { error, ms: performance.now() - started }
  }
}

beforeAll(async () => {
  redis = await PrivateRedis.create()
  port = redis.port
})

afterAll(async () => {
  await redis?.destroy()
})

describe('Redis state when Redis fails', () => {
  let state: RedisSharedState
  const healthLog: boolean[] = []

  afterEach(async () => {
    await state?.close()
  })

  async function open(): Promise<RedisSharedState> {
    state = createRedisState(parseRedisUrl(`redis://127.0.0.1:${port}/0`, { keyPrefix: 'outage:', commandTimeoutMs }), {
      instanceId: 'i1',
      onHealth: (up) => healthLog.push(up),
    })
    await state.connect()
    return state
  }

  it('decides on Redis TIME, and sends exactly the commands it counts as round trips', async () => {
    const s = await open()
    const admin = new Redis({ port, host: '127.0.0.1', lazyConnect: true })
    await admin.connect()
    try {
      // Warm up: the first EVALSHA of each script meets NOSCRIPT and ioredis sends the script once.
      const warm = await s.permits.acquire('k1', 10)
      await s.permits.renew([{ keyId: 'k1', leaseId: warm.leaseId! }])
      await s.permits.release('k1', warm.leaseId!)
      await admin.config('RESETSTAT')

      const before = s.connection.roundTrips
      const leases = []
      for (let i = 0; i < 4; i++) leases.push(await s.permits.acquire(i < 2 ? 'k1' : 'k2', 10))
      // A lease's expiry is Redis's clock + 30 s (the test clock is not in use here).
      const score = Number(await admin.zscore('outage:{k:k1}:leases', leases[0]!.leaseId!))
      expect(Math.abs(score - (Date.now() + 30_000))).toBeLessThan(2_000)
      await s.permits.renew(leases.map((l, i) => ({ keyId: i < 2 ? 'k1' : 'k2', leaseId: l.leaseId! })))
      for (let i = 0; i < 4; i++) await s.permits.release(i < 2 ? 'k1' : 'k2', leases[i]!.leaseId!)
      // 4 acquires + 1 pipelined renewal + 4 releases.
      expect(s.connection.roundTrips - before).toBe(9)

      const stats = await admin.info('commandstats')
      const calls = (cmd: string) => Number(new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(stats)?.[1] ?? 0)
      // The pipeline carried one script call per key (2); nothing else reached the server.
      expect({ evalsha: calls('evalsha'), eval: calls('eval'), zrem: calls('zrem'), script: calls('script') }).toEqual({ evalsha: 6, eval: 0, zrem: 4, script: 0 })
    } finally {
      admin.disconnect()
    }
  })

  it('fails every kind of call fast while Redis is down, says so, and recovers by itself (scripts reloaded)', async () => {
    const s = await open()
    expect(s.health.up).toBe(true)
    const held = await s.permits.acquire('k', 5)
    expect(held.granted).toBe(true)

    const down = healthBecomes(s, false, 5_000)
    await redis.stop()
    await down

    const calls: (() => Promise<unknown>)[] = [
      () => s.permits.acquire('k', 5),
      () => s.permits.release('k', held.leaseId!),
      () => s.permits.renew([{ keyId: 'k', leaseId: held.leaseId! }]),
      () => s.breakers.read('k'),
      () => s.consumerRates.admit('c', { rpm: 5, tpm: null }, 1),
      () => s.leaders.campaign('probe:p', 'i1', 15_000),
      () => s.invalidation.publish({ kind: 'tier-changed', id: 't', from: 'i1' }),
    ]
    for (const call of calls) {
      const { error, ms } = await timed(call)
      expect(error).toBeInstanceOf(StateUnavailableError)
      expect(ms).toBeLessThan(fastMs)
    }

    // Back on the same port, empty (no persistence): health returns without anyone calling, and
    // every script runs again on the new server, pipelines included.
    const up = healthBecomes(s, true, 5_000)
    await redis.start()
    await up
    expect((await s.permits.acquire('k', 5)).granted).toBe(true)
    expect(await s.permits.renew([{ keyId: 'k', leaseId: held.leaseId! }])).toEqual([false])
    expect((await s.breakers.read('k')).state).toBe('closed')
    expect((await s.consumerRates.admit('c', { rpm: 5, tpm: null }, 1)).ok).toBe(true)
    expect(healthLog.slice(-2)).toEqual([false, true])
  })

  it('times out within the state timeout when Redis hangs (stopped, connection still open); one timeout is not an outage, a run of them is', async () => {
    const s = await open()
    await s.breakers.read('k')
    redis.freeze()
    try {
      const { error, ms } = await timed(() => s.permits.acquire('k', 5))
      expect(error).toBeInstanceOf(StateUnavailableError)
      expect((error as StateUnavailableError).reason).toBe('timeout')
      expect(ms).toBeGreaterThanOrEqual(commandTimeoutMs - 5)
      expect(ms).toBeLessThan(fastMs)
      // One slow call (a loaded machine has them) leaves the shared limits in force.
      expect(s.health.up).toBe(true)
      // Calls sent one after another, each timing out: Redis is silent across round trips.
      const down = healthBecomes(s, false, 5 * fastMs)
      for (let i = 1; i < failuresToDown && s.health.up; i++) expect((await timed(() => s.breakers.read('k'))).error).toBeInstanceOf(StateUnavailableError)
      await down
      expect(s.connection.timeouts).toBe(failuresToDown)
    } finally {
      redis.thaw()
    }
    // Back by its own checks (nobody calls meanwhile).
    await healthBecomes(s, true, 5_000)
    expect((await s.permits.acquire('k', 5)).granted).toBe(true)
  })

  it('a half-open trial claimed while Redis hangs, applied once it answers, is released: not held for the trial TTL', async () => {
    const time = new FakeTime()
    const testClock = { nowMs: Date.UTC(2027, 0, 15) }
    state = createRedisState(parseRedisUrl(`redis://127.0.0.1:${port}/0`, { keyPrefix: 'outage-trial:', commandTimeoutMs }), { instanceId: 'i1', testClock })
    await state.connect()
    const s = state
    const registry = new BreakerRegistry(() => 0.5)
    const breaker = registry.obtain('p', 'trial', { ...defaultBreakerSettings, openMs: 10_000, maxOpenMs: 10_000, jitter: 0 })
    const mirror = new SharedBreakerMirror({ breakers: s.breakers, registry, instanceId: 'i1', clock: time, timers: time, rand: () => 0.5 })
    try {
      breaker.failed(time.now(), 'connect', false)
      // One connection answers in order: this read comes back after the trip.
      expect((await s.breakers.read(breaker.id)).state).toBe('open')
      time.advance(10_000)
      testClock.nowMs += 10_000
      const trial = { breaker, trial: breaker.dispatched(time.now()), sharedTrial: null } as unknown as ScheduledAttempt
      expect(trial.trial).toBe(true)
      redis.freeze()
      try {
        // No answer: this instance's own breaker decides; Redis applies the claim when it wakes.
        expect(await mirror.claim(trial)).toEqual({ won: true })
      } finally {
        redis.thaw()
      }
      // The claim, then its release, then this read: in that order on the one connection.
      const view = await s.breakers.read(breaker.id)
      expect({ state: view.state, trialHeld: view.trialHeld }).toEqual({ state: 'half-open', trialHeld: false })
    } finally {
      mirror.close()
    }
  })

  it('refuses to open against a Redis that is not there, quickly, saying where it looked and never the password', async () => {
    const unused = await freePort()
    const { error, ms } = await timed(() => openSharedState(parseRedisUrl(`redis://:hunter2@127.0.0.1:${unused}/0`, { keyPrefix: 'outage:', commandTimeoutMs })))
    expect(error).toBeInstanceOf(StateUnavailableError)
    expect((error as Error).message).toContain(`redis://127.0.0.1:${unused}/0`)
    expect((error as Error).message).not.toContain('hunter2')
    expect(ms).toBeLessThan(2_000)
  })

  it('opens the ports the setting names: Redis connected, memory in process', async () => {
    const shared = await openSharedState(parseRedisUrl(`redis://127.0.0.1:${port}/0`, { keyPrefix: 'outage:' }), { instanceId: 'opened' })
    try {
      expect(shared.health.up).toBe(true)
      expect(await shared.leaders.campaign('x', 'opened', 1_000)).toMatchObject({ leader: true })
    } finally {
      await shared.close()
    }
    const local = await openSharedState({ kind: 'memory' })
    expect(local.health.up).toBe(true)
    expect((await local.permits.acquire('k', 1)).granted).toBe(true)
  })
})
