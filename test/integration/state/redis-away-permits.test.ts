import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startGateway, type Gateway } from '../../../src/main.js'
import { startSimulator, type Simulator } from '../../../src/simulator/index.js'
import type { RedisSharedState } from '../../../src/state/redis/index.js'
import { createLogger } from '../../../src/telemetry/logger.js'
import { maxOverlap } from '../../support/cluster.js'
import { postgresDatabase, type TestDatabase } from '../../support/consumers.js'
import { send, type Reply } from '../../support/data-plane.js'
import { within } from '../../support/failover.js'
import { PrivateRedis } from '../../support/private-redis.js'

// The request path when Redis goes away (a private redis-server, stopped and started by this
// test): no request waits on it, each instance keeps to its share of the key's limit, and once
// Redis is back the permits are leases again.

const ttftMs = 200

describe('state: redis — permits while Redis is away', () => {
  let redis: PrivateRedis
  let sim: Simulator
  let db: TestDatabase
  let gw: Gateway
  beforeAll(async () => {
    redis = await PrivateRedis.create()
    sim = await startSimulator({ config: { latency: { ttft_ms: ttftMs }, keys: { 'sk-sim-away': { id: 'away', headers: 'none' } } } })
    db = await postgresDatabase('away')
    gw = await startGateway({
      config: {
        value: {
          database: db.url,
          state: { url: redis.url, timeout: '200ms' },
          providers: { sim: { type: 'openai', base_url: `${sim.url}/v1`, keys: [{ id: 'away', key: 'sk-sim-away', max_concurrent: 3 }] } },
          models: { m: { targets: [{ provider: 'sim', model: 'sim-model' }] } },
        },
        label: 'redis away',
      },
      logger: createLogger({ level: 'silent' }),
      port: 0,
      processMetrics: false,
      watch: false,
    })
  }, 30_000)
  afterAll(async () => {
    await gw?.shutdown()
    await sim?.close()
    await db?.drop()
    await redis?.destroy()
  })

  const burst = (tag: string, n: number): Promise<Reply[]> =>
    Promise.all(Array.from({ length: n }, (_, i) => send(gw.url, '/v1/chat/completions', { headers: { 'x-request-id': `${tag}-${i}` }, body: { model: 'm', messages: [{ role: 'user', content: 'hi' }], max_tokens: 1 } })))

  const upstream = (tag: string) => sim.requests().filter((r) => String(r.headers['x-request-id']).startsWith(`${tag}-`))

  it('Redis up: 9 requests run 3 at a time, as leases', async () => {
    const replies = await within(burst('up', 9), 10_000, 'the requests with Redis up')
    expect(replies.map((r) => r.status)).toEqual(Array(9).fill(200))
    expect(maxOverlap(upstream('up'))).toBe(3)
  })

  it('Redis gone: every request is still answered, none waits on Redis, and the key keeps to its limit', async () => {
    await redis.stop()
    const started = performance.now()
    const replies = await within(burst('down', 9), 10_000, 'the requests with Redis down')
    expect(replies.map((r) => r.status)).toEqual(Array(9).fill(200))
    // Three rounds of the upstream's 200 ms, plus at most one failed Redis call (200 ms) each.
    expect(performance.now() - started).toBeLessThan(3 * ttftMs + 9 * 200 + 1_000)
    // One live instance as last seen: its share is the whole limit.
    expect(maxOverlap(upstream('down'))).toBeLessThanOrEqual(3)
  }, 20_000)

  it('Redis back: leases again', async () => {
    // Back once its health checks have passed (not at the first answer: health does not flap).
    const up = new Promise<void>((resolve) => {
      const off = gw.shared.health.onChange((now) => {
        if (!now) return
        off()
        resolve()
      })
    })
    await redis.start()
    await within(up, 10_000, 'shared state up again')
    const conn = (gw.shared as RedisSharedState).connection
    const before = conn.roundTrips
    const replies = await within(burst('back', 6), 15_000, 'the requests with Redis back')
    expect(replies.map((r) => r.status)).toEqual(Array(6).fill(200))
    expect(maxOverlap(upstream('back'))).toBeLessThanOrEqual(3)
    expect(gw.shared.health.up).toBe(true)
    // Each took a lease before it was sent (and released it after).
    expect(conn.roundTrips - before).toBeGreaterThanOrEqual(6)
  }, 20_000)
})
