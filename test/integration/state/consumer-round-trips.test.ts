import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startGateway, type Gateway } from '../../../src/main.js'
import { startSimulator, type Simulator } from '../../../src/simulator/index.js'
import type { Arg, ScriptCall } from '../../../src/state/redis/connection.js'
import type { RedisSharedState } from '../../../src/state/redis/index.js'
import { createLogger } from '../../../src/telemetry/logger.js'
import { chatBody, makeCaller, postgresDatabase, type Caller, type TestDatabase } from '../../support/consumers.js'
import { within } from '../../support/failover.js'
import { LogCapture } from '../../support/harness.js'
import { PrivateRedis } from '../../support/private-redis.js'

// What a consumer's limits cost on Redis, and what happens when Redis hangs. A gateway in this
// process on a private redis-server (this test freezes it) and a Postgres schema of its own.
// Round trips are counted by the connection: a request from a consumer with an RPM, a TPM and a
// budget makes one more than one from a consumer without limits while it waits (the admit
// script); settlements follow in batches (one pipeline every 20 ms for all that finished).

const stateTimeoutMs = 200

describe('consumer limits on Redis', () => {
  let redis: PrivateRedis
  let db: TestDatabase
  let sim: Simulator
  let gw: Gateway
  const logs = new LogCapture()
  let limited: Caller
  let free: Caller

  beforeAll(async () => {
    redis = await PrivateRedis.create()
    db = await postgresDatabase('trips')
    sim = await startSimulator({ config: {} })
    gw = await startGateway({
      config: {
        value: {
          database: db.url,
          state: { url: redis.url, key_prefix: `trips-${randomBytes(4).toString('hex')}:`, timeout: `${stateTimeoutMs}ms` },
          auth: 'required',
          tiers: { limited: { rpm: 100, tpm: 100_000, budget_usd: 10, budget_period: 'month' } },
          pricing: { 'sim-model': { input: 1, output: 2 } },
          providers: { sim: { type: 'openai', base_url: `${sim.url}/v1`, keys: [{ id: 'k1', key: 'sk-sim-test-1' }] } },
          models: { 'test-model': { targets: [{ provider: 'sim', model: 'sim-model' }] } },
        },
        label: 'test',
      },
      logger: createLogger({ level: 'info', destination: logs }),
      port: 0,
      processMetrics: false,
      database: db.url,
      watch: false,
    })
    limited = await makeCaller(gw, 'limited', 'limited')
    free = await makeCaller(gw, 'free', null)
  }, 30_000)

  afterAll(async () => {
    await gw?.shutdown()
    await sim?.close()
    await redis?.destroy()
    await db?.drop()
  })

  const connection = () => (gw.shared as RedisSharedState).connection

  async function chat(caller: Caller): Promise<{ status: number; headers: Headers; ms: number }> {
    const done = logs.accessLog().length + 1
    const started = performance.now()
    const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { ...caller.headers, 'content-type': 'application/json' }, body: JSON.stringify(chatBody('test-model', 'hello', { max_tokens: 16 })), signal: AbortSignal.timeout(10_000) })
    await res.text()
    const ms = performance.now() - started
    // The settlement is sent when the admit stage finishes, before the access-log line.
    await logs.waitForAccessLog((records) => records.length >= done)
    return { status: res.status, headers: res.headers, ms }
  }

  /** Resolves once the connection has made `n` round trips since `from` (settlements are sent in batches, every 20 ms), or after 2 s. */
  async function tripsReach(from: number, n: number): Promise<number> {
    const started = performance.now()
    while (connection().roundTrips - from < n && performance.now() - started < 2_000) await new Promise((r) => setImmediate(r))
    return connection().roundTrips - from
  }

  async function tripsOf(caller: Caller): Promise<number> {
    const before = connection().roundTrips
    expect((await chat(caller)).status).toBe(200)
    return connection().roundTrips - before
  }

  it('a limited consumer costs one round trip before the upstream call; settlements follow in batches', async () => {
    // Warm: scripts loaded, the budget seeded from the ledger (once per consumer and process).
    await tripsOf(limited)
    await tripsReach(connection().roundTrips, 1)
    await tripsOf(free)
    const baseline = await tripsOf(free)
    // One request alone: the admit script while it waits, then its settlement in a batch of one.
    const before = connection().roundTrips
    expect((await chat(limited)).status).toBe(200)
    expect(await tripsReach(before, baseline + 2)).toBe(baseline + 2)
    // Thirty at once: thirty admits, and their settlements in far fewer batches.
    const burst = connection().roundTrips
    const replies = await Promise.all(Array.from({ length: 30 }, () => chat(limited)))
    expect(replies.every((r) => r.status === 200)).toBe(true)
    await tripsReach(burst, 31 + 30 * baseline)
    const perRequest = (connection().roundTrips - burst) / 30 - baseline
    expect(perRequest).toBeGreaterThanOrEqual(1)
    expect(perRequest).toBeLessThan(1.5)
    // The budget is counted in Redis: spend of this month, from the usage the simulator reported.
    const spend = await gw.shared.spend.read(limited.consumer.id, 'month')
    expect(spend.spentPico).toBeGreaterThan(0)
  })

  /**
   * Records the script calls made while health says down, by name (a breaker call by its op):
   * the request path's are the admit, the lease, the shared pace and the trial claim.
   */
  function callsWhileDown(): { calls: string[]; restore: () => void } {
    const conn = connection()
    const calls: string[] = []
    const run = conn.run.bind(conn)
    const pipeline = conn.pipeline.bind(conn)
    const name = (script: string, args: readonly Arg[]): string => (script === 'breaker' ? `breaker:${String(args[0])}` : script)
    conn.run = <T>(script: string, keys: readonly string[], args: readonly Arg[]): Promise<T> => {
      if (!conn.up) calls.push(name(script, args))
      return run<T>(script, keys, args)
    }
    conn.pipeline = (batch: readonly ScriptCall[]): Promise<unknown[]> => {
      if (!conn.up) for (const c of batch) calls.push(name(c.script, c.args))
      return pipeline(batch)
    }
    return {
      calls,
      restore: () => {
        conn.run = run
        conn.pipeline = pipeline
      },
    }
  }
  const requestPath = /^(consumer-admit|acquire-lease|pace|breaker:claim)$/

  /** Resolves on the next change of shared-state health to `up` (bounded). */
  const healthBecomes = (up: boolean): Promise<void> =>
    gw.shared.health.up === up
      ? Promise.resolve()
      : within(new Promise<void>((resolve) => {
          const off = gw.shared.health.onChange((now) => {
            if (now !== up) return
            off()
            resolve()
          })
        }), 10_000, `shared state ${up ? 'up' : 'down'}`)

  it('Redis hanging: a few requests wait out the state timeout; once it is reported down none calls Redis, degraded is reported, and it ends by itself', async () => {
    const recorder = callsWhileDown()
    redis.freeze()
    try {
      // Until health says down, each request may wait out the state timeout (admit, then lease):
      // a run of failures across round trips, not one, is an outage. Bounded by count.
      let before = 0
      while (gw.shared.health.up && before < 10) {
        expect((await chat(limited)).status).toBe(200)
        before++
      }
      expect(gw.shared.health.up).toBe(false)
      const ready = await (await fetch(`${gw.url}/health/ready`)).json() as { degraded: string | null }
      expect(ready.degraded).toBe('state')
      // Down: every request is admitted against this instance's share and sent on its share of
      // the key, without one call to Redis — none waits out the timeout.
      const fallbacks = async () => ((await (await fetch(`${gw.url}/status`)).json()) as { state: { fallbacks: number } }).state.fallbacks
      const fellBack = await fallbacks()
      const timeouts = connection().timeouts
      for (let i = 0; i < 8; i++) {
        const r = await chat(limited)
        expect(r.status).toBe(200)
        // This instance is alone: its share is the whole limit.
        expect(r.headers.get('x-ratelimit-limit-requests')).toBe('100')
      }
      expect(gw.shared.health.up).toBe(false)
      expect(recorder.calls.filter((c) => requestPath.test(c))).toEqual([])
      expect(await fallbacks()).toBe(fellBack)
      // What did time out meanwhile was background work (heartbeat, breaker sync, checks), at most a few.
      expect(connection().timeouts - timeouts).toBeLessThan(8)
    } finally {
      redis.thaw()
      recorder.restore()
    }
    // Back by its own checks (a PING each period while down), without a request asking.
    await healthBecomes(true)
    const after = (await (await fetch(`${gw.url}/health/ready`)).json()) as { degraded: string | null }
    expect(after.degraded).toBeNull()
    const trips = connection().roundTrips
    expect((await chat(limited)).status).toBe(200)
    expect(connection().roundTrips).toBeGreaterThan(trips)
    await within(logs.waitForAccessLog(() => logs.entries().some((l) => String(l.msg).startsWith('shared state answers again'))), 5_000, 'the recovery log line')
    const lines = logs.entries().map((l) => String(l.msg))
    expect(lines.filter((m) => m.startsWith('shared state cannot be reached'))).toHaveLength(1)
    expect(lines.filter((m) => m.startsWith('shared state answers again'))).toHaveLength(1)
  }, 30_000)
})
