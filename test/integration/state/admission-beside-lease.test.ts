import { randomBytes } from 'node:crypto'
import { createServer, request, type Server } from 'node:http'
import OpenAI from 'openai'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startGateway, type Gateway } from '../../../src/main.js'
import { startSimulator, type Simulator } from '../../../src/simulator/index.js'
import { createLogger } from '../../../src/telemetry/logger.js'
import { makeCaller, postgresDatabase, type Caller, type TestDatabase } from '../../support/consumers.js'
import { FlightProxy } from '../../support/flight-proxy.js'
import { LogCapture } from '../../support/harness.js'
import { redisUrl } from '../../support/cluster.js'

// Issue 15's cost: at most one Redis round trip before the upstream call. A consumer with an
// RPM needs its admit script and the key's lease (an RPM alone settles nothing afterwards, so
// nothing of an earlier request's is still on its way); the admit stage sends its
// script and goes on, so both go out in the same turn and are awaited together. Counted as
// flights (bursts sent before hearing back) through a relay in front of Redis, read by a relay
// in front of the simulator at the moment the request reaches the upstream.

describe('a limited consumer on Redis: admission and lease in one round trip', () => {
  let sim: Simulator
  let upstream: Server
  let proxy: FlightProxy
  let db: TestDatabase
  let gw: Gateway
  let limited: Caller
  let free: Caller
  /** proxy.flights when each request reached the upstream, in arrival order. */
  const atUpstream: number[] = []
  /** Requests answered so far: each releases its lease once (a ZREM), after its answer. */
  let answered = 0

  beforeAll(async () => {
    sim = await startSimulator({ config: {} })
    const simPort = Number(new URL(sim.url).port)
    upstream = createServer((req, res) => {
      atUpstream.push(proxy.flights)
      const forward = request({ host: '127.0.0.1', port: simPort, path: req.url, method: req.method, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(res)
      })
      req.pipe(forward)
    })
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve))
    const upstreamUrl = `http://127.0.0.1:${(upstream.address() as { port: number }).port}`
    proxy = await FlightProxy.start(Number(new URL(redisUrl).port || 6379))
    db = await postgresDatabase('flights')
    gw = await startGateway({
      config: {
        value: {
          database: db.url,
          state: { url: proxy.url, key_prefix: `flights-${randomBytes(4).toString('hex')}:` },
          auth: 'required',
          tiers: { limited: { rpm: 1000 } },
          providers: { sim: { type: 'openai', base_url: `${upstreamUrl}/v1`, keys: [{ id: 'k1', key: 'sk-sim-test-1', max_concurrent: 10 }] } },
          models: { 'test-model': { targets: [{ provider: 'sim', model: 'sim-model' }] } },
        },
        label: 'test',
      },
      logger: createLogger({ level: 'warn', destination: new LogCapture() }),
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
    await proxy?.close()
    await new Promise<void>((resolve) => (upstream ? upstream.close(() => resolve()) : resolve()))
    await sim?.close()
    await db?.drop()
  })

  /** Flights between the request leaving the client and it reaching the upstream. */
  async function flightsBefore(caller: Caller): Promise<number> {
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: caller.secret, maxRetries: 0 })
    const before = proxy.flights
    const arrived = atUpstream.length
    await client.chat.completions.create({ model: 'test-model', messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 })
    expect(atUpstream.length).toBe(arrived + 1)
    // Its lease's release, sent after its answer, has been answered too: the next request's flights are its own.
    await proxy.until('ZREM', ++answered)
    return (atUpstream[arrived] as number) - before
  }

  it('one flight before the upstream call, as for a consumer without limits', async () => {
    // Warm: scripts loaded.
    await flightsBefore(limited)
    await flightsBefore(free)
    // A heartbeat or renewal may fall inside one request; the fewest over several is the request's own.
    const limitedFlights: number[] = []
    const freeFlights: number[] = []
    for (let i = 0; i < 5; i++) {
      limitedFlights.push(await flightsBefore(limited))
      freeFlights.push(await flightsBefore(free))
    }
    expect(Math.min(...freeFlights)).toBe(1)
    expect(Math.min(...limitedFlights)).toBe(1)
  })
})
