import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { parseGoDuration } from '../../../src/core/headers/rate-limits.js'
import { chatBody, expectRefusal, makeCaller, type Caller } from '../../support/consumers.js'
import { send, type Reply } from '../../support/data-plane.js'
import { startStack, type Stack } from '../../support/harness.js'

// A tier's RPM and TPM, exactly: the burst is the whole limit, the x-ratelimit-* headers count
// down one per request, the request past the limit is 429 rate_limit_exceeded with Retry-After
// and never reaches the upstream. X-Priority is capped by the tier.

const requestHeaders = ['x-ratelimit-limit-requests', 'x-ratelimit-remaining-requests', 'x-ratelimit-reset-requests']
const tokenHeaders = ['x-ratelimit-limit-tokens', 'x-ratelimit-remaining-tokens', 'x-ratelimit-reset-tokens']

const present = (reply: Reply, names: readonly string[]): string[] => names.filter((n) => reply.headers[n] !== undefined)

/** A reset header's value in ms (a Go duration, as OpenAI writes them). */
function resetMs(reply: Reply, name: string): number {
  const text = reply.headers[name] ?? ''
  const ms = parseGoDuration(text)
  expect(ms, `${name}: ${JSON.stringify(text)}`).not.toBeNull()
  return ms as number
}

describe('consumers: exact tier limits and their headers', () => {
  let stack: Stack
  let rpm5: Caller
  let tpm: Caller
  let capped: Caller

  beforeAll(async () => {
    stack = await startStack({
      gateway: (simUrl) => ({
        providers: { sim: { type: 'openai', base_url: `${simUrl}/v1`, keys: [{ id: 'k1', key: 'sk-sim-test-1' }] } },
        models: { 'test-model': { targets: [{ provider: 'sim', model: 'sim-model' }] } },
        tiers: {
          rpm5: { rpm: 5 },
          tpm1000: { tpm: 1000 },
          capped: { priority: { max: 'normal' } },
        },
      }),
    })
    rpm5 = await makeCaller(stack.gw, 'rpm-five', 'rpm5')
    tpm = await makeCaller(stack.gw, 'tpm-thousand', 'tpm1000')
    capped = await makeCaller(stack.gw, 'capped', 'capped')
  })
  afterAll(() => stack.close())
  beforeEach(() => stack.sim.reset())

  it('rpm 5: five 200s counting down 4,3,2,1,0, then 429 rate_limit_exceeded with Retry-After ≈ 12 s; the upstream saw five', async () => {
    const replies: Reply[] = []
    const started = performance.now()
    for (let i = 0; i < 6; i++) {
      replies.push(await send(stack.gw.url, '/v1/chat/completions', { body: chatBody('test-model', `rpm probe ${i}`, { max_tokens: 2 }), headers: rpm5.headers }))
    }
    const elapsedMs = performance.now() - started
    const served = replies.slice(0, 5)
    expect(served.map((r) => r.status)).toEqual([200, 200, 200, 200, 200])
    expect(served.map((r) => r.headers['x-ratelimit-limit-requests'])).toEqual(['5', '5', '5', '5', '5'])
    expect(served.map((r) => r.headers['x-ratelimit-remaining-requests'])).toEqual(['4', '3', '2', '1', '0'])
    // The bucket is full again one interval (12 s) per request taken, less the time gone by.
    served.forEach((r, i) => {
      const ms = resetMs(r, 'x-ratelimit-reset-requests')
      expect(ms).toBeLessThanOrEqual((i + 1) * 12_000)
      expect(ms).toBeGreaterThan((i + 1) * 12_000 - elapsedMs - 1)
    })
    // No TPM in this tier: no tokens trio.
    for (const r of served) expect(present(r, tokenHeaders)).toEqual([])

    const refused = replies[5] as Reply
    const error = expectRefusal(refused, 429, 'rate_limit_exceeded')
    expect(refused.json<{ error: { type: string } }>().error.type).toBe('rate_limit_error')
    expect(error.message).toContain('rpm-five')
    const retryAfter = Number(refused.headers['retry-after'])
    expect(retryAfter).toBeGreaterThanOrEqual(Math.floor(12 - elapsedMs / 1000))
    expect(retryAfter).toBeLessThanOrEqual(12)
    expect(refused.headers['x-ratelimit-limit-requests']).toBe('5')
    expect(refused.headers['x-ratelimit-remaining-requests']).toBe('0')
    expect(resetMs(refused, 'x-ratelimit-reset-requests')).toBeGreaterThan(60_000 - elapsedMs - 1)

    await stack.sim.waitForRequests(5)
    expect(stack.sim.requests()).toHaveLength(5)
    const [refusedLog] = (await stack.logs.waitForAccessLog((r) => r.some((l) => l.status === 429))).filter((l) => l.status === 429)
    expect(refusedLog).toMatchObject({ error: 'rate_limit_exceeded', provider: null, upstreamStatus: null, attempts: 0 })
  })

  it('tpm set: the tokens trio appears (and no requests trio); remaining is the limit less the estimate charged', async () => {
    const body = chatBody('test-model', 'tpm probe', { max_tokens: 100 })
    const charged = Math.ceil(Buffer.byteLength(JSON.stringify(body)) / 4) + 100
    const reply = await send(stack.gw.url, '/v1/chat/completions', { body, headers: tpm.headers })
    expect(reply.status, reply.text).toBe(200)
    expect(present(reply, tokenHeaders)).toEqual(tokenHeaders)
    expect(present(reply, requestHeaders)).toEqual([])
    expect(reply.headers['x-ratelimit-limit-tokens']).toBe('1000')
    expect(reply.headers['x-ratelimit-remaining-tokens']).toBe(String(1000 - charged))
    const ms = resetMs(reply, 'x-ratelimit-reset-tokens')
    expect(ms).toBeGreaterThan(0)
    expect(ms).toBeLessThanOrEqual(Math.ceil((charged * 60_000) / 1000))
  })

  it('tpm set: a request whose estimate alone exceeds the TPM is 429 rate_limit_exceeded at once, never sent upstream', async () => {
    const before = stack.sim.stats().totals.requests
    const reply = await send(stack.gw.url, '/v1/chat/completions', { body: chatBody('test-model', 'too big', { max_tokens: 5000 }), headers: tpm.headers })
    const error = expectRefusal(reply, 429, 'rate_limit_exceeded')
    expect(error.message).toContain('max_tokens')
    expect(present(reply, tokenHeaders)).toEqual(tokenHeaders)
    expect(stack.sim.stats().totals.requests).toBe(before)
  })

  it('X-Priority: urgent from a tier whose priority.max is normal is served as normal; lower asks are kept', async () => {
    const asks = [
      { id: 'prio-urgent', header: 'urgent', expected: 'normal' },
      { id: 'prio-high', header: 'high', expected: 'normal' },
      { id: 'prio-zero', header: '0', expected: 'normal' },
      { id: 'prio-none', header: null, expected: 'normal' },
      { id: 'prio-low', header: 'low', expected: 'low' },
    ]
    for (const a of asks) {
      const headers: Record<string, string> = { ...capped.headers, 'x-request-id': a.id }
      if (a.header !== null) headers['x-priority'] = a.header
      const reply = await send(stack.gw.url, '/v1/chat/completions', { body: chatBody('test-model', a.id, { max_tokens: 2 }), headers })
      expect(reply.status, reply.text).toBe(200)
    }
    const log = await stack.logs.waitForAccessLog((r) => asks.every((a) => r.some((l) => l.requestId === a.id)))
    expect(asks.map((a) => log.find((l) => l.requestId === a.id)?.priority)).toEqual(asks.map((a) => a.expected))
  })
})
