import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SluiceConfigInput } from '../../../src/config/schema.js'
import { startGateway, type Gateway } from '../../../src/main.js'
import type { UsageRecord } from '../../../src/store/types.js'
import { createLogger } from '../../../src/telemetry/logger.js'
import { postgresDatabase, sqliteDatabase, type TestDatabase } from '../../support/consumers.js'
import { LogCapture } from '../../support/harness.js'
import { adminClient, adminKey, createdJson, expectError, okJson } from './support.js'

// GET /api/admin/usage/daily: the usage ledger per consumer and UTC day, for the dashboard's
// consumers panel, with each consumer's budget against what its current period has spent. The
// gateway's wall clock is fixed, so "today" and every period start are known; the ledger is
// filled directly, over days a test could not wait through. SQLite and Postgres alike.

const readOnlyKey = 'adm-daily-read-2f7c9e1a4b6d8e03'
const day = 86_400_000
/** Monday 2026-12-07, 15:00 UTC: the week and the month began on days inside a 14-day window. */
const now = Date.UTC(2026, 11, 7, 15)
const today = Date.UTC(2026, 11, 7)
const daysAgo = (n: number, hours = 1): number => today - n * day + hours * 3_600_000

const config: SluiceConfigInput = {
  admin: { keys: [adminKey], read_only_keys: [readOnlyKey] },
  // Never called: the ledger is written by the test.
  providers: { p: { type: 'openai', base_url: 'http://127.0.0.1:9/v1', keys: [{ id: 'k', key: 'sk-daily-unused-6a1e' }] } },
  models: { m: { targets: [{ provider: 'p', model: 'up' }] } },
  tiers: {
    daily: { budget_usd: 1, budget_period: 'day' },
    monthly: { budget_usd: 10, budget_period: 'month' },
    forever: { budget_usd: 100, budget_period: 'total' },
    free: {},
  },
}

interface DayJson { day: string; requests: number; prompt_tokens: number; completion_tokens: number; cost_usd: number }
interface ConsumerDaysJson {
  consumer_id: string | null
  name: string | null
  days: DayJson[]
  totals: Omit<DayJson, 'day'>
  budget: { usd: number; period: string; period_start: string; spent_usd: number } | null
}
interface DailyJson { object: 'list'; days: string[]; data: ConsumerDaysJson[] }

describe.each([
  ['sqlite', () => Promise.resolve(sqliteDatabase('daily'))],
  ['postgres', () => postgresDatabase('daily')],
] as const)('admin API: usage per consumer and day (%s)', (_name, database) => {
  let db: TestDatabase
  let gw: Gateway
  const admin = adminClient(() => gw.url)
  const ids: Record<string, string> = {}
  const daily = async (query = ''): Promise<DailyJson> => okJson<DailyJson>(await admin(`/api/admin/usage/daily${query}`))
  const of = (body: DailyJson, name: string): ConsumerDaysJson | undefined => body.data.find((c) => c.name === name)

  beforeAll(async () => {
    db = await database()
    gw = await startGateway({
      config: { value: config, label: 'test' },
      logger: createLogger({ level: 'warn', destination: new LogCapture() }),
      port: 0,
      processMetrics: false,
      watch: false,
      database: db.url,
      epoch: { now: () => now },
    })
    for (const [name, tier, overrides] of [['alice', 'daily'], ['bob', 'monthly'], ['carol', 'forever', { budget_usd: 50 }], ['dave', 'free'], ['erin', null]] as const) {
      ids[name] = createdJson<{ id: string }>(await admin('/api/admin/consumers', { method: 'POST', body: { name, tier, overrides } })).id
    }
    const rec = (consumer: string | null, at: number, costUsd: number, model = 'm'): UsageRecord => ({
      at, requestId: `r-${consumer}-${at}-${costUsd}`, consumerId: consumer === null ? null : (ids[consumer] as string), keyPrefix: null, sessionId: null, model, deployment: 'p/k/up',
      status: 200, outcome: 'success', promptTokens: 100, completionTokens: 10, costUsd, queueMs: 0, latencyMs: 5, partial: false, priority: 'normal',
    })
    await gw.store.usage.appendBatch([
      rec('alice', daysAgo(0), 0.25),
      rec('alice', daysAgo(0, 14), 0.5, 'other'),
      rec('alice', daysAgo(1, 23), 5),
      rec('alice', daysAgo(20), 7),
      rec('bob', daysAgo(0), 1),
      rec('bob', daysAgo(3), 2),
      rec('bob', daysAgo(6, 0), 4), // the first instant of December
      rec('bob', daysAgo(7, 23), 8), // the last hour of November
      rec('carol', daysAgo(40), 3),
      rec('carol', daysAgo(0), 1),
      rec('erin', daysAgo(2), 0.125),
      rec(null, daysAgo(0), 0),
    ])
    expect((await admin(`/api/admin/consumers/${ids.erin}`, { method: 'DELETE' })).status).toBe(200)
  }, 30_000)
  afterAll(async () => {
    await gw?.shutdown()
    await db?.drop()
  })

  it('lists the last 14 UTC days, today last, and every consumer by name, then records without one', async () => {
    const body = await daily()
    expect(body.object).toBe('list')
    expect(body.days).toHaveLength(14)
    expect(body.days.at(0)).toBe('2026-11-24')
    expect(body.days.at(-1)).toBe('2026-12-07')
    expect(body.data.map((c) => c.name)).toEqual(['alice', 'bob', 'carol', 'dave', null, null])
    // A deleted consumer's records stay, under its id; requests without a consumer are one row.
    expect(body.data.slice(4).map((c) => c.consumer_id)).toEqual([ids.erin, null])
    expect(body.data.slice(4).map((c) => c.budget)).toEqual([null, null])
  })

  it('gives each consumer its days with requests, tokens and spend, oldest first, and the totals over the window', async () => {
    const body = await daily()
    const alice = of(body, 'alice')
    expect(alice?.days).toEqual([
      { day: '2026-12-06', requests: 1, prompt_tokens: 100, completion_tokens: 10, cost_usd: 5 },
      { day: '2026-12-07', requests: 2, prompt_tokens: 200, completion_tokens: 20, cost_usd: 0.75 },
    ])
    expect(alice?.totals).toEqual({ requests: 3, prompt_tokens: 300, completion_tokens: 30, cost_usd: 5.75 })
    expect(of(body, 'bob')?.days.map((d) => [d.day, d.cost_usd])).toEqual([['2026-11-30', 8], ['2026-12-01', 4], ['2026-12-04', 2], ['2026-12-07', 1]])
    expect(of(body, 'dave')).toMatchObject({ days: [], totals: { requests: 0, cost_usd: 0 }, budget: null })
  })

  it('sets each budget against its period: a day, a month read from the days, a total asked of the ledger', async () => {
    const body = await daily()
    expect(of(body, 'alice')?.budget).toEqual({ usd: 1, period: 'day', period_start: '2026-12-07T00:00:00.000Z', spent_usd: 0.75 })
    expect(of(body, 'bob')?.budget).toEqual({ usd: 10, period: 'month', period_start: '2026-12-01T00:00:00.000Z', spent_usd: 7 })
    // An override of the tier's budget; the total includes what is older than the window.
    expect(of(body, 'carol')?.budget).toEqual({ usd: 50, period: 'total', period_start: '1970-01-01T00:00:00.000Z', spent_usd: 4 })
    // A window shorter than the month: the month is asked of the ledger, and comes to the same.
    const short = await daily('?days=3')
    expect(short.days).toEqual(['2026-12-05', '2026-12-06', '2026-12-07'])
    expect(of(short, 'bob')?.days.map((d) => d.day)).toEqual(['2026-12-07'])
    expect(of(short, 'bob')?.budget?.spent_usd).toBe(7)
  })

  it('filters by consumer (name or id) and by model; a budget still counts every model', async () => {
    for (const who of ['alice', ids.alice as string]) {
      const body = await daily(`?consumer=${encodeURIComponent(who)}`)
      expect(body.data.map((c) => c.name)).toEqual(['alice'])
    }
    const deleted = await daily(`?consumer=${ids.erin}`)
    expect(deleted.data).toMatchObject([{ consumer_id: ids.erin, name: null, totals: { requests: 1, cost_usd: 0.125 } }])
    expect((await daily('?consumer=nobody')).data).toEqual([])
    const model = await daily('?consumer=alice&model=other')
    expect(of(model, 'alice')?.days).toEqual([{ day: '2026-12-07', requests: 1, prompt_tokens: 100, completion_tokens: 10, cost_usd: 0.5 }])
    expect(of(model, 'alice')?.budget?.spent_usd).toBe(0.75)
  })

  it('refuses a bad query with invalid_field naming the parameter', async () => {
    for (const [query, param] of [['?days=0', 'days'], ['?days=93', 'days'], ['?days=two', 'days'], ['?from=0', 'from'], ['?consumer=', 'consumer'], ['?days=1&days=2', 'days']] as const) {
      expectError(await admin(`/api/admin/usage/daily${query}`), 400, 'invalid_field', param)
    }
    expect((await daily('?days=92')).days).toHaveLength(92)
    expect((await daily('?days=1')).days).toEqual(['2026-12-07'])
  })

  it('is a read route: the read-only key may call it, and the OpenAPI document lists it with its parameters', async () => {
    okJson(await admin('/api/admin/usage/daily', { authorization: `Bearer ${readOnlyKey}` }))
    const doc = okJson<{ paths: Record<string, Record<string, { 'x-sluice-role': string; parameters: { name: string; in: string }[] }>> }>(await admin('/api/admin/openapi.json'))
    const op = doc.paths['/api/admin/usage/daily']?.get
    expect(op?.['x-sluice-role']).toBe('read')
    expect(op?.parameters.map((p) => p.name).sort()).toEqual(['consumer', 'days', 'model'])
  })
})
