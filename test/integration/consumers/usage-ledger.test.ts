import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openStore } from '../../../src/store/open.js'
import type { UsageRecord } from '../../../src/store/types.js'
import {
  abandonStream, chatBody, expectRefusal, makeCaller, metricValue, postgresDatabase, simulatedUsage, sqliteDatabase, waitForLedger,
  type Caller, type TestDatabase,
} from '../../support/consumers.js'
import { send, sseData } from '../../support/data-plane.js'
import { startStack, type Stack } from '../../support/harness.js'

// The usage ledger has one record for every request that had a caller — served, streamed,
// abandoned mid-stream, refused by a limit, unroutable — and none for a request refused before
// auth knew who it was. Its request ids are the access log's, its tokens the upstream's, and
// what was recorded just before shutdown is in the database afterwards. On SQLite and Postgres.

const price = { input: 500, output: 1500 }
const costOf = (u: { promptTokens: number; completionTokens: number }): number => (u.promptTokens * price.input + u.completionTokens * price.output) / 1e6

const backends: { name: string; open(): Promise<TestDatabase> }[] = [
  { name: 'SQLite', open: async () => sqliteDatabase('ledger') },
  { name: 'Postgres', open: () => postgresDatabase('ledger') },
]

interface Planned {
  readonly id: string
  /** null: no caller (refused by auth): no record. */
  readonly caller: Caller | null
  readonly status: number
  readonly session: string | null
  /** The simulator's usage, for requests it answered in full. */
  readonly usage: { promptTokens: number; completionTokens: number } | null
  readonly partial: boolean
}

for (const backend of backends) {
  describe(`consumers: usage records equal requests served, on ${backend.name}`, () => {
    let opening: Promise<TestDatabase>
    let stack: Stack
    let alice: Caller
    let bob: Caller
    const planned: Planned[] = []

    beforeAll(async () => {
      opening = backend.open()
      opening.catch(() => undefined)
      const db = await opening
      stack = await startStack({
        gateway: (simUrl) => ({
          providers: { sim: { type: 'openai', base_url: `${simUrl}/v1`, keys: [{ id: 'k1', key: 'sk-sim-test-1' }] } },
          models: { 'test-model': { targets: [{ provider: 'sim', model: 'sim-model' }] } },
          pricing: { 'sim-model': price },
          tiers: { open: {}, metered: { rpm: 2 } },
          database: db.url,
        }),
      })
      expect(stack.gw.store.kind).toBe(db.kind)
      alice = await makeCaller(stack.gw, 'alice', 'open')
      bob = await makeCaller(stack.gw, 'bob', 'metered')
    })
    afterAll(async () => {
      await stack?.close()
      await opening?.then((db) => db.drop(), () => undefined)
    })

    const post = (id: string, caller: Caller | null, body: Record<string, unknown>, session: string | null = null, extra: Record<string, string> = {}) => {
      const headers: Record<string, string> = { 'x-request-id': id, ...(caller?.headers ?? {}), ...extra }
      if (session !== null) headers['x-session-id'] = session
      return send(stack.gw.url, '/v1/chat/completions', { body, headers })
    }

    it('a mix of requests, each answered as expected', async () => {
      // 1. Non-streamed, in a session.
      const c1 = 'ledger one'
      const r1 = await post('led-01', alice, chatBody('test-model', c1, { max_tokens: 5 }), 'sess-a')
      expect(r1.status, r1.text).toBe(200)
      planned.push({ id: 'led-01', caller: alice, status: 200, session: 'sess-a', usage: simulatedUsage(c1, 5), partial: false })

      // 2. Streamed without asking for usage: sluice asks the upstream, and removes the chunk again.
      const c2 = 'ledger two, streamed'
      const r2 = await post('led-02', alice, chatBody('test-model', c2, { max_tokens: 7, stream: true }), 'sess-a')
      expect(r2.status, r2.text).toBe(200)
      const events = sseData(r2.text)
      expect(events.at(-1)).toBe('[DONE]')
      for (const e of events.slice(0, -1)) expect((JSON.parse(e) as { usage?: unknown }).usage ?? null).toBeNull()
      planned.push({ id: 'led-02', caller: alice, status: 200, session: 'sess-a', usage: simulatedUsage(c2, 7), partial: false })

      // 3. Streamed, asking for usage.
      const c3 = 'ledger three'
      const r3 = await post('led-03', alice, chatBody('test-model', c3, { max_tokens: 3, stream: true, stream_options: { include_usage: true } }))
      expect(r3.status, r3.text).toBe(200)
      planned.push({ id: 'led-03', caller: alice, status: 200, session: null, usage: simulatedUsage(c3, 3), partial: false })

      // 4. A stream the client leaves midway.
      stack.sim.script([{ kind: 'slow_chunks', interval_ms: 40, chunks: 400 }])
      const body4 = JSON.stringify(chatBody('test-model', 'ledger four, abandoned', { stream: true }))
      await abandonStream(stack.gw.url, { ...alice.headers, 'x-request-id': 'led-04', 'x-session-id': 'sess-b' }, body4, 3)
      await stack.logs.waitForAccessLog((r) => r.some((l) => l.requestId === 'led-04'))
      planned.push({ id: 'led-04', caller: alice, status: 499, session: 'sess-b', usage: null, partial: true })

      // 5–7. Bob's tier allows two a minute: the third is refused, and still has a caller.
      for (const [i, id] of ['led-05', 'led-06', 'led-07'].entries()) {
        const content = `ledger bob ${i}`
        const reply = await post(id, bob, chatBody('test-model', content, { max_tokens: 4 }), i === 1 ? 'sess-c' : null)
        const served = i < 2
        if (served) expect(reply.status, reply.text).toBe(200)
        else expectRefusal(reply, 429, 'rate_limit_exceeded')
        planned.push({ id, caller: bob, status: served ? 200 : 429, session: i === 1 ? 'sess-c' : null, usage: served ? simulatedUsage(content, 4) : null, partial: false })
      }

      // 8. A caller asking for a model nobody serves: refused after auth, so it has a record.
      const r8 = await post('led-08', alice, chatBody('no-such-model', 'x', { max_tokens: 2 }))
      expectRefusal(r8, 404, 'model_not_found', 'model')
      planned.push({ id: 'led-08', caller: alice, status: 404, session: null, usage: null, partial: false })

      // 9–10. No caller: refused by auth, no record.
      expectRefusal(await post('led-09', null, chatBody('test-model', 'x', { max_tokens: 2 })), 401, 'invalid_api_key')
      expectRefusal(await post('led-10', null, chatBody('test-model', 'x', { max_tokens: 2 }), null, { authorization: 'Bearer abc' }), 401, 'invalid_api_key')
      planned.push({ id: 'led-09', caller: null, status: 401, session: null, usage: null, partial: false })
      planned.push({ id: 'led-10', caller: null, status: 401, session: null, usage: null, partial: false })
    })

    it('the streams asked the upstream for usage', async () => {
      await stack.sim.waitForRequests(6)
      const streamed = stack.sim.requests().filter((r) => r.stream)
      expect(streamed).toHaveLength(3)
      for (const r of streamed) expect((r.body_json as { stream_options?: { include_usage?: boolean } }).stream_options?.include_usage).toBe(true)
      expect(stack.sim.requests().find((r) => r.stream && r.aborted)).toBeDefined()
    })

    it('one record per request with a caller; ids, statuses and outcomes match the access log; tokens match the upstream', async () => {
      const ids = planned.map((p) => p.id)
      const log = await stack.logs.waitForAccessLog((r) => ids.every((id) => r.some((l) => l.requestId === id)))
      const withCaller = planned.filter((p) => p.caller !== null)
      const records = await waitForLedger(stack.gw.store, (r) => r.length >= withCaller.length)
      // No more than expected either: nothing recorded twice, nothing for the callers auth refused.
      expect(records.map((r) => r.requestId).sort()).toEqual(withCaller.map((p) => p.id).sort())

      const byId = new Map<string, UsageRecord>(records.map((r) => [r.requestId, r]))
      for (const p of withCaller) {
        const rec = byId.get(p.id) as UsageRecord
        const line = log.find((l) => l.requestId === p.id) as Record<string, unknown>
        const caller = p.caller as Caller
        expect(rec, p.id).toMatchObject({
          consumerId: caller.consumer.id,
          keyPrefix: caller.key.prefix,
          sessionId: p.session,
          status: p.status,
          partial: p.partial,
        })
        expect(rec.status, p.id).toBe(line.status)
        expect(rec.outcome, p.id).toBe(line.outcome)
        expect(rec.priority, p.id).toBe(line.priority)
        if (p.usage !== null) {
          expect({ prompt: rec.promptTokens, completion: rec.completionTokens }, p.id).toEqual({ prompt: p.usage.promptTokens, completion: p.usage.completionTokens })
          expect({ prompt: line.promptTokens, completion: line.completionTokens }, p.id).toEqual({ prompt: p.usage.promptTokens, completion: p.usage.completionTokens })
          expect(rec.costUsd, p.id).toBeCloseTo(costOf(p.usage), 12)
          expect(rec.model, p.id).toBe('test-model')
          expect(rec.deployment, p.id).toBeTruthy()
        }
      }
      const abandoned = byId.get('led-04') as UsageRecord
      expect(abandoned).toMatchObject({ status: 499, outcome: 'client_abort', partial: true })
      // Estimated from what was relayed: a prompt and at least one of the events the client read.
      expect(abandoned.promptTokens).toBeGreaterThan(0)
      expect(abandoned.completionTokens).toBeGreaterThanOrEqual(1)
      const limited = byId.get('led-07') as UsageRecord
      expect(limited).toMatchObject({ outcome: 'rejected', promptTokens: null, completionTokens: null, costUsd: 0, deployment: null })
      expect(byId.get('led-08')).toMatchObject({ status: 404, outcome: 'rejected', costUsd: 0 })

      // Sessions group what was sent with X-Session-ID.
      expect((await stack.gw.store.usage.session('sess-a')).map((r) => r.requestId)).toEqual(['led-01', 'led-02'])
      expect((await stack.gw.store.usage.session('sess-c')).map((r) => r.requestId)).toEqual(['led-06'])

      const metrics = await stack.gw.metrics.render()
      expect(metrics).toContain('# TYPE sluice_usage_records_dropped_total counter')
      expect(metricValue(metrics, 'sluice_usage_records_dropped_total') ?? 0).toBe(0)
    })

    it('records made right before shutdown are in the database afterwards (flushed on shutdown)', async () => {
      const db = await opening
      const ids = ['led-last-1', 'led-last-2', 'led-last-3']
      for (const id of ids) expect((await post(id, alice, chatBody('test-model', id, { max_tokens: 2 }))).status).toBe(200)
      await stack.logs.waitForAccessLog((r) => ids.every((id) => r.some((l) => l.requestId === id)))
      const beforeShutdown = (await stack.gw.store.usage.query({ limit: 100, offset: 0 })).records.filter((r) => ids.includes(r.requestId)).length
      expect(await stack.gw.shutdown()).toBe(true)
      expect(metricValue(await stack.gw.metrics.render(), 'sluice_usage_records_dropped_total') ?? 0).toBe(0)

      const store = await openStore(db.url)
      try {
        const { records, totals } = await store.usage.query({ limit: 100, offset: 0 })
        expect(records.filter((r) => ids.includes(r.requestId)).map((r) => r.requestId).sort(), `${beforeShutdown} of them were written before shutdown began`).toEqual(ids)
        expect(totals.requests).toBe(planned.filter((p) => p.caller !== null).length + ids.length)
      } finally {
        await store.close()
      }
    })
  })
}
