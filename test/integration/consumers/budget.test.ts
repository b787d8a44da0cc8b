import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SluiceConfigInput } from '../../../src/config/schema.js'
import { startGateway, type Gateway } from '../../../src/main.js'
import { createLogger } from '../../../src/telemetry/logger.js'
import { abandonStream, chatBody, expectRefusal, makeCaller, simulatedUsage, sqliteDatabase, waitForLedger, type Caller, type TestDatabase } from '../../support/consumers.js'
import { send, type Reply } from '../../support/data-plane.js'
import { LogCapture, startStack, type Stack } from '../../support/harness.js'

// A tier's budget, priced from the usage the upstream reports: N requests spend it exactly, the
// next one is 429 budget_exceeded with Retry-After (until the period ends) and never reaches
// the upstream; the ledger's cost is the price table's; a restart remembers the spend.

// USD per million tokens: every request below costs 4 × $0.001 + 6 × $0.002 = $0.016.
const price = { input: 1000, output: 2000 }
const content = 'budget-probe-01' // 15 characters and a newline: 4 prompt tokens
const maxTokens = 6
const usage = simulatedUsage(content, maxTokens)
const costPerRequest = (usage.promptTokens * price.input + usage.completionTokens * price.output) / 1e6
const affordable = 3
const budgetUsd = 0.048

const config = (simUrl: string, database: string): SluiceConfigInput => ({
  providers: { sim: { type: 'openai', base_url: `${simUrl}/v1`, keys: [{ id: 'k1', key: 'sk-sim-test-1' }] } },
  models: { 'test-model': { targets: [{ provider: 'sim', model: 'sim-model' }] } },
  pricing: { 'sim-model': price },
  tiers: { metered: { budget_usd: budgetUsd, budget_period: 'month' } },
  database,
})

/** Seconds from now until the next UTC month begins: a monthly budget's Retry-After. */
function secondsToNextMonth(): number {
  const d = new Date()
  return (Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) - d.getTime()) / 1000
}

describe('consumers: budgets', () => {
  let db: TestDatabase
  let stack: Stack
  let payer: Caller

  beforeAll(async () => {
    db = sqliteDatabase('budget')
    stack = await startStack({ gateway: (simUrl) => config(simUrl, db.url) })
    payer = await makeCaller(stack.gw, 'payer', 'metered')
  })
  afterAll(async () => {
    await stack?.close()
    await db?.drop()
  })

  it('the arithmetic the test relies on', () => {
    expect(usage).toEqual({ promptTokens: 4, completionTokens: 6 })
    expect(costPerRequest).toBeCloseTo(0.016, 12)
    expect(costPerRequest * affordable).toBeCloseTo(budgetUsd, 12)
  })

  it(`${affordable} requests spend the budget; the next is 429 budget_exceeded with Retry-After; the upstream saw ${affordable}`, async () => {
    stack.sim.reset()
    const replies: Reply[] = []
    for (let i = 0; i <= affordable; i++) {
      const id = `budget-${i}`
      replies.push(await send(stack.gw.url, '/v1/chat/completions', { body: chatBody('test-model', content, { max_tokens: maxTokens }), headers: { ...payer.headers, 'x-request-id': id } }))
      // The spend is charged when the request ends, just before its access-log line.
      await stack.logs.waitForAccessLog((r) => r.some((l) => l.requestId === id))
    }
    for (const r of replies.slice(0, affordable)) {
      expect(r.status, r.text).toBe(200)
      expect(r.json<{ usage: { prompt_tokens: number; completion_tokens: number } }>().usage).toMatchObject({ prompt_tokens: usage.promptTokens, completion_tokens: usage.completionTokens })
    }
    const refused = replies[affordable] as Reply
    const error = expectRefusal(refused, 429, 'budget_exceeded')
    expect(refused.json<{ error: { type: string } }>().error.type).toBe('rate_limit_error')
    expect(error.message).toContain('payer')
    const retryAfter = Number(refused.headers['retry-after'])
    expect(retryAfter).toBeGreaterThanOrEqual(Math.floor(secondsToNextMonth()) - 5)
    expect(retryAfter).toBeLessThanOrEqual(Math.ceil(secondsToNextMonth()) + 1)

    await stack.sim.waitForRequests(affordable)
    expect(stack.sim.requests()).toHaveLength(affordable)

    // The ledger: one record per request, the served ones priced from the price table.
    const records = await waitForLedger(stack.gw.store, (r) => r.length >= affordable + 1, { consumerId: payer.consumer.id })
    expect(records).toHaveLength(affordable + 1)
    const byId = new Map(records.map((r) => [r.requestId, r]))
    for (let i = 0; i < affordable; i++) {
      expect(byId.get(`budget-${i}`)).toMatchObject({ status: 200, outcome: 'success', promptTokens: usage.promptTokens, completionTokens: usage.completionTokens })
      expect(byId.get(`budget-${i}`)?.costUsd).toBeCloseTo(costPerRequest, 12)
    }
    expect(byId.get(`budget-${affordable}`)).toMatchObject({ status: 429, outcome: 'rejected', costUsd: 0, promptTokens: null })
    const { totals } = await stack.gw.store.usage.query({ consumerId: payer.consumer.id, limit: 1, offset: 0 })
    expect(totals.requests).toBe(affordable + 1)
    expect(totals.costUsd).toBeCloseTo(budgetUsd, 12)
    expect(await stack.gw.store.usage.spentSince(payer.consumer.id, 0)).toBeCloseTo(budgetUsd, 12)
  })

  it('a new gateway on the same database seeds the spend from the ledger and refuses at once', async () => {
    // Shut down (the ledger is flushed), then start again on the same file.
    await stack.gw.shutdown()
    const logs = new LogCapture()
    let gw: Gateway | null = null
    try {
      gw = await startGateway({ config: { value: config(stack.sim.url, db.url), label: 'test' }, logger: createLogger({ level: 'info', destination: logs }), port: 0, processMetrics: false })
      const before = stack.sim.stats().totals.requests
      const reply = await send(gw.url, '/v1/chat/completions', { body: chatBody('test-model', content, { max_tokens: maxTokens }), headers: payer.headers })
      expectRefusal(reply, 429, 'budget_exceeded')
      expect(reply.headers['retry-after']).toBeDefined()
      expect(stack.sim.stats().totals.requests).toBe(before)
    } finally {
      await gw?.shutdown()
    }
  })
})

describe('consumers: a stream the client leaves midway counts against the budget', () => {
  let stack: Stack
  let leaver: Caller
  // Any one abandoned stream (a prompt and a few tokens at $1 000 per million each) costs more than this.
  const tinyBudget = 0.001

  beforeAll(async () => {
    stack = await startStack({
      gateway: (simUrl) => ({
        providers: { sim: { type: 'openai', base_url: `${simUrl}/v1`, keys: [{ id: 'k1', key: 'sk-sim-test-1' }] } },
        models: { 'test-model': { targets: [{ provider: 'sim', model: 'sim-model' }] } },
        pricing: { 'sim-model': { input: 1000, output: 1000 } },
        tiers: { tiny: { budget_usd: tinyBudget } },
      }),
    })
    leaver = await makeCaller(stack.gw, 'leaver', 'tiny')
  })
  afterAll(() => stack.close())

  it('the abandoned stream\'s record is priced from the tokens it records, and the next request is refused', async () => {
    stack.sim.script([{ kind: 'slow_chunks', interval_ms: 40, chunks: 400 }])
    const body = JSON.stringify(chatBody('test-model', 'a long story, please', { stream: true }))
    await abandonStream(stack.gw.url, { ...leaver.headers, 'x-request-id': 'leave-1' }, body, 4)
    await stack.logs.waitForAccessLog((r) => r.some((l) => l.requestId === 'leave-1'))
    const [record] = await waitForLedger(stack.gw.store, (r) => r.length >= 1, { consumerId: leaver.consumer.id })
    expect(record).toMatchObject({ requestId: 'leave-1', partial: true, outcome: 'client_abort' })
    const prompt = record?.promptTokens ?? 0
    const completion = record?.completionTokens ?? 0
    expect(prompt + completion).toBeGreaterThan(tinyBudget * 1000) // the tokens alone are worth more than the budget
    const priced = (prompt * 1000 + completion * 1000) / 1e6

    // Soft, so a failure reports both halves: the ledger's price and the budget's refusal.
    expect.soft(record?.costUsd, 'the cost recorded for the abandoned stream').toBeCloseTo(priced, 12)
    const before = stack.sim.stats().totals.requests
    const next = await send(stack.gw.url, '/v1/chat/completions', { body: chatBody('test-model', 'again', { max_tokens: 2 }), headers: leaver.headers })
    expectRefusal(next, 429, 'budget_exceeded')
    expect(stack.sim.stats().totals.requests).toBe(before)
  })
})
