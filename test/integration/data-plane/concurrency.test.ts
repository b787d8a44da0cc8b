import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { gatewayStatus, send, startWatchedStack, type WatchedStack } from '../../support/data-plane.js'

// Many requests at once: each is answered, logged exactly once under its own id, and the id a
// client sent comes back to it.

const n = 50

describe('data plane: concurrency sanity', () => {
  let stack: WatchedStack
  beforeAll(async () => {
    // A first token after 200 ms keeps all of them in flight together.
    stack = await startWatchedStack({ sim: { latency: { ttft_ms: 200 } } })
  })
  afterAll(() => stack.close())

  it(`${n} concurrent chat requests all succeed, each logged once with its own request id`, async () => {
    const ids = Array.from({ length: n }, (_, i) => `conc-${i}-${i % 2 === 0 ? 'stream' : 'json'}`)
    const replies = await Promise.all(
      ids.map((id, i) =>
        send(stack.gw.url, '/v1/chat/completions', {
          headers: { 'x-request-id': id },
          body: { model: 'test-model', messages: [{ role: 'user', content: `question ${i}` }], max_tokens: 5, stream: i % 2 === 0 },
        }),
      ),
    )
    replies.forEach((r, i) => {
      expect(r.status).toBe(200)
      expect(r.headers['x-request-id']).toBe(ids[i])
      if (i % 2 === 0) expect(r.text.trimEnd().endsWith('data: [DONE]')).toBe(true)
      else expect(r.json<{ choices: unknown[] }>().choices).toHaveLength(1)
    })

    const log = await stack.logs.waitForAccessLog((records) => records.length >= n)
    expect(log).toHaveLength(n)
    const logged = log.map((r) => r.requestId as string)
    expect(new Set(logged).size).toBe(n)
    expect([...logged].sort()).toEqual([...ids].sort())
    for (const r of log) expect(r).toMatchObject({ status: 200, outcome: 'success', route: 'test-model' })

    await stack.sim.waitForRequests(n)
    const stats = stack.sim.stats().totals
    expect(stats).toMatchObject({ requests: n, ok: n, in_flight: 0, aborted: 0 })
    expect(stats.max_concurrency_seen).toBeGreaterThan(1)
    // The upstream got the same ids, so one request can be followed end to end.
    expect(stack.sim.requests().map((r) => r.headers['x-request-id']).sort()).toEqual([...ids].sort())
    expect((await gatewayStatus(stack.gw.url)).requests).toMatchObject({ in_flight: 0, total: n })
  })

  it('an invalid x-request-id is replaced by a generated one', async () => {
    const res = await send(stack.gw.url, '/v1/chat/completions', {
      headers: { 'x-request-id': 'bad id with spaces' },
      body: { model: 'test-model', messages: [{ role: 'user', content: 'hi' }], max_tokens: 1 },
    })
    expect(res.status).toBe(200)
    expect(res.headers['x-request-id']).toMatch(/^[A-Za-z0-9._:-]{1,128}$/)
    expect(res.headers['x-request-id']).not.toBe('bad id with spaces')
  })
})
