import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startGateway, type Gateway } from '../../../src/main.js'
import { startSimulator, type Simulator } from '../../../src/simulator/index.js'
import { createLogger } from '../../../src/telemetry/logger.js'
import { SluiceProcess } from '../../support/child.js'
import { chatBody, expectRefusal, makeCaller, metricValue, waitForLedger, type Caller } from '../../support/consumers.js'
import { send, type Reply } from '../../support/data-plane.js'
import { within } from '../../support/failover.js'
import { LogCapture } from '../../support/harness.js'
import { PrivatePostgres } from '../../support/private-postgres.js'

// Postgres stops under load (issue 12, item 12). A database that cannot be reached is not a bug
// in sluice: keys it checked keep working from the cache past their TTL (for at most 10 minutes
// more), a key it cannot check gets 503 auth_unavailable with Retry-After — never a 500 —,
// readiness says degraded: "database" and stays 200, usage records wait in the buffer (the
// metric says how many) and are all written once the database is back. A start with the
// database down still fails at once with a clear message. The test runs its own Postgres on a
// free port; the shared one is never touched. The key cache runs on a clock of the test's.

const ttlMs = 30_000
const staleMs = 600_000

describe('consumers: a Postgres outage under load', () => {
  let pg: PrivatePostgres
  let sim: Simulator
  let gw: Gateway
  let authNow = 0
  let alice: Caller
  let bob: Caller
  const served: string[] = []

  beforeAll(async () => {
    pg = await PrivatePostgres.start()
    sim = await startSimulator({ config: {} })
    gw = await startGateway({
      config: {
        value: {
          database: pg.url,
          auth: 'required',
          providers: { sim: { type: 'openai', base_url: `${sim.url}/v1`, keys: [{ id: 'k1', key: 'sk-sim-outage-1' }] } },
          models: { 'test-model': { targets: [{ provider: 'sim', model: 'sim-model' }] } },
          tiers: { basic: { models: ['test-model'] } },
        },
        label: 'postgres-outage',
      },
      logger: createLogger({ level: 'warn', destination: new LogCapture() }),
      port: 0,
      processMetrics: false,
      watch: false,
      authCache: { ttlMs, now: () => authNow },
    })
    alice = await makeCaller(gw, 'alice', 'basic')
    bob = await makeCaller(gw, 'bob', 'basic')
  }, 120_000)
  afterAll(async () => {
    await gw?.shutdown()
    await sim?.close()
    await pg?.destroy()
  })

  const ask = async (caller: Caller, id: string): Promise<Reply> => {
    const reply = await send(gw.url, '/v1/chat/completions', { body: chatBody('test-model', 'hello', { max_tokens: 4 }), headers: { ...caller.headers, 'x-request-id': id } })
    if (reply.status === 200) served.push(id)
    return reply
  }
  const ready = async (): Promise<{ status: number; body: { status: string; degraded: string | null } }> => {
    const reply = await send(gw.url, '/health/ready', { method: 'GET' })
    return { status: reply.status, body: reply.json() as { status: string; degraded: string | null } }
  }
  const metric = async (name: string): Promise<number | null> => metricValue((await send(gw.url, '/metrics', { method: 'GET' })).text, name)

  it('before: alice is served and cached; ready, not degraded', async () => {
    for (let i = 0; i < 5; i++) expect((await ask(alice, `before-${i}`)).status).toBe(200)
    expect(await ready()).toEqual({ status: 200, body: expect.objectContaining({ status: 'ready', degraded: null }) as unknown })
    expect(await metric('sluice_database_up')).toBe(1)
  })

  it('Postgres stops; past the cache TTL, 60 concurrent requests with the cached key are all served, a key never checked gets 503 auth_unavailable', async () => {
    await pg.stop()
    authNow += ttlMs + 1
    const replies = await Promise.all(Array.from({ length: 60 }, (_, i) => ask(alice, `outage-${i}`)))
    expect(replies.filter((r) => r.status !== 200).map((r) => `${r.status} ${r.text}`)).toEqual([])

    const unknown = await ask(bob, 'outage-bob')
    expectRefusal(unknown, 503, 'auth_unavailable')
    expect(unknown.headers['retry-after']).toBe('5')
  })

  it('meanwhile readiness stays 200 and says degraded: "database"; the usage records wait in the buffer, none dropped', async () => {
    expect(await ready()).toEqual({ status: 200, body: expect.objectContaining({ status: 'ready', degraded: 'database' }) as unknown })
    expect(await metric('sluice_database_up')).toBe(0)
    expect(await metric('sluice_usage_buffer_records')).toBeGreaterThanOrEqual(60)
    expect(await metric('sluice_usage_buffer_capacity_records')).toBe(10_000)
    expect((await metric('sluice_usage_records_dropped_total')) ?? 0).toBe(0) // a counter with no series yet is absent
  })

  it('a start with the database down fails at once: exit 1, saying where it could not connect', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-pg-start-'))
    try {
      const file = join(dir, 'sluice.yaml')
      writeFileSync(file, `database: ${pg.url}\nproviders:\n  sim: { type: openai, base_url: "${sim.url}/v1", keys: [{ id: k1, key: sk-sim-outage-1 }] }\nmodels:\n  m: { targets: [{ provider: sim }] }\n`)
      const proc = SluiceProcess.start(['start', '--config', file, '--port', '0'])
      const exit = await within(proc.exited, 20_000, 'sluice start to exit')
      expect(exit.code).toBe(1)
      expect(proc.stderr.join('\n')).toContain(`could not connect to postgres at 127.0.0.1:${pg.port}/postgres`)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('the stale-if-error bound: 10 minutes past the TTL, even a cached key cannot be checked', async () => {
    authNow += staleMs
    expectRefusal(await ask(alice, 'too-stale'), 503, 'auth_unavailable')
  })

  it('Postgres is back: alice is checked afresh, readiness is no longer degraded, and every served request is in the ledger', async () => {
    await pg.resume()
    expect((await ask(alice, 'after-1')).status).toBe(200)
    expect((await ask(bob, 'after-bob')).status).toBe(200)
    expect((await ready()).body.degraded).toBeNull()
    const records = await waitForLedger(gw.store, (all) => served.every((id) => all.some((r) => r.requestId === id)))
    expect(served.filter((id) => !records.some((r) => r.requestId === id))).toEqual([])
    expect(served.length).toBe(5 + 60 + 2)
    expect((await metric('sluice_usage_records_dropped_total')) ?? 0).toBe(0) // a counter with no series yet is absent
  })
})
