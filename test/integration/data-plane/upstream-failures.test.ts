import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { expectErrorBody, send, sseData, startWatchedStack, type WatchedStack } from '../../support/data-plane.js'

// How each way an upstream can fail reaches the client (docs/errors.md): timeouts, resets,
// garbage, upstream error statuses. A stream that already started ends with exactly one
// error event and no [DONE].

const upstreamKey = 'sk-sim-failures-key-0123456789'
const revokedKey = 'sk-sim-revoked-key-0123456789'
const patientBreaker = { failure_threshold: 1000, min_requests: 1000 }

describe('data plane: upstream failures and timeouts', () => {
  let stack: WatchedStack
  beforeAll(async () => {
    stack = await startWatchedStack({
      sim: { keys: { [revokedKey]: { id: 'revoked', revoked: true } } },
      gateway: (simUrl) => ({
        providers: {
          // One key takes every scripted failure in turn: its breaker must not take it out.
          sim: { type: 'openai', base_url: `${simUrl}/v1`, keys: [{ id: 'k1', key: upstreamKey }], failover: patientBreaker },
          fast: { type: 'openai', base_url: `${simUrl}/v1`, keys: [{ id: 'f1', key: upstreamKey }], timeouts: { first_byte: '300ms' } },
          quiet: { type: 'openai', base_url: `${simUrl}/v1`, keys: [{ id: 'q1', key: upstreamKey }], timeouts: { idle: '300ms' } },
          gone: { type: 'openai', base_url: `${simUrl}/v1`, keys: [{ id: 'r1', key: revokedKey }] },
        },
        models: {
          'test-model': { targets: [{ provider: 'sim', model: 'sim-model' }] },
          'fast-model': { targets: [{ provider: 'fast', model: 'sim-model' }] },
          'quiet-model': { targets: [{ provider: 'quiet', model: 'sim-model' }] },
          'revoked-model': { targets: [{ provider: 'gone', model: 'sim-model' }] },
        },
      }),
    })
  })
  afterAll(() => stack.close())
  beforeEach(() => stack.sim.reset())

  const chat = (model: string, extra: Record<string, unknown> = {}) => ({ model, messages: [{ role: 'user', content: 'hello' }], ...extra })
  const post = (body: unknown) => send(stack.gw.url, '/v1/chat/completions', { body })

  /** The SSE events of a stream that broke: the last one is the only error, and no [DONE]. */
  function expectBrokenStream(text: string, code: string): void {
    const events = sseData(text)
    expect(events.length).toBeGreaterThan(1)
    expect(events).not.toContain('[DONE]')
    expect(text).not.toContain('[DONE]')
    const parsed = events.map((e) => JSON.parse(e) as Record<string, unknown>)
    const errors = parsed.filter((e) => 'error' in e)
    expect(errors).toHaveLength(1)
    expect(parsed.at(-1)).toBe(errors[0])
    expect(events.at(-1)?.startsWith('{"error":{')).toBe(true)
    expectErrorBody(parsed.at(-1), code)
    // Everything before it is the upstream's own chunks.
    for (const chunk of parsed.slice(0, -1)) expect(chunk.object).toBe('chat.completion.chunk')
  }

  it('first_byte timeout: 504 upstream_timeout after ~300 ms, not after the 2 s stall', async () => {
    stack.sim.script([{ kind: 'stall_before_headers', ms: 2000 }])
    const startedAt = performance.now()
    const res = await post(chat('fast-model'))
    const elapsed = performance.now() - startedAt
    expect(res.status).toBe(504)
    const error = expectErrorBody(res.json(), 'upstream_timeout')
    expect(error.type).toBe('upstream_error')
    expect(error.message).toContain('300ms')
    // At the configured time: never early, and late only by scheduling noise.
    expect(elapsed).toBeGreaterThanOrEqual(295)
    expect(elapsed).toBeLessThan(900)
    const log = await stack.logs.waitForAccessLog((r) => r.some((x) => x.requestId === res.headers['x-request-id']))
    expect(log.find((x) => x.requestId === res.headers['x-request-id'])).toMatchObject({ status: 504, outcome: 'timeout', error: 'upstream_timeout' })
  })

  it('idle timeout mid-stream: the stream ends with one upstream_timeout event and no [DONE]', async () => {
    stack.sim.script([{ kind: 'stall_mid_stream', after_chunks: 3, ms: 2000 }])
    const startedAt = performance.now()
    const res = await post(chat('quiet-model', { stream: true, max_tokens: 10 }))
    const elapsed = performance.now() - startedAt
    expect(elapsed).toBeGreaterThanOrEqual(295)
    expect(elapsed).toBeLessThan(900)
    expect(res.status).toBe(200)
    expectBrokenStream(res.text, 'upstream_timeout')
    // role preamble + the 3 chunks before the stall, then the error
    expect(sseData(res.text)).toHaveLength(5)
  })

  it('a reset mid-stream: one upstream_error event and no [DONE]', async () => {
    stack.sim.script([{ kind: 'reset_mid_stream', after_chunks: 4 }])
    const res = await post(chat('test-model', { stream: true, max_tokens: 10 }))
    expect(res.status).toBe(200)
    expectBrokenStream(res.text, 'upstream_error')
    expect(sseData(res.text)).toHaveLength(6)
  })

  it('a reset before headers: 502 upstream_error', async () => {
    stack.sim.script([{ kind: 'reset_before_headers' }])
    const res = await post(chat('test-model'))
    expect(res.status).toBe(502)
    expect(expectErrorBody(res.json(), 'upstream_error').type).toBe('upstream_error')
  })

  it('garbage instead of JSON: 502 upstream_invalid_response', async () => {
    stack.sim.script([{ kind: 'garbage' }])
    const res = await post(chat('test-model'))
    expect(res.status).toBe(502)
    expectErrorBody(res.json(), 'upstream_invalid_response')
    expect(res.text).not.toContain('DOCTYPE')
  })

  it('upstream 500: 502 upstream_error', async () => {
    stack.sim.script([{ kind: 'error', status: 500 }])
    const res = await post(chat('test-model'))
    expect(res.status).toBe(502)
    expectErrorBody(res.json(), 'upstream_error')
  })

  it('upstream 401 (revoked key): 502 whose message does not blame the client', async () => {
    const res = await post(chat('revoked-model'))
    await stack.sim.waitForRequests(1)
    expect(stack.sim.requests()[0]).toMatchObject({ status: 401, key_id: 'revoked' })
    expect(res.status).toBe(502)
    const error = expectErrorBody(res.json(), 'upstream_error')
    expect(error.type).toBe('upstream_error')
    expect(error.message).not.toMatch(/incorrect api key|invalid api key|your api key|you provided/i)
    expect(error.message).not.toContain(revokedKey)
    expect(error.message).toContain('gateway')
  })

  it('upstream 400 with a body: the same status, a scrubbed body with only the four fields', async () => {
    stack.sim.script([
      {
        kind: 'error',
        status: 400,
        body: {
          error: { message: `This model's maximum context length is 8192 tokens (key ${upstreamKey}).`, type: 'invalid_request_error', code: 'context_length_exceeded', param: 'messages', internal_trace: 'node-7/shard-3' },
          debug: { authorization: `Bearer ${upstreamKey}` },
        },
        headers: { 'x-upstream-internal': 'yes' },
      },
    ])
    const res = await post(chat('test-model'))
    expect(res.status).toBe(400)
    const error = expectErrorBody(res.json(), 'context_length_exceeded', 'messages')
    expect(error.type).toBe('invalid_request_error')
    expect(error.message).toContain('maximum context length is 8192 tokens')
    expect(res.text).not.toContain(upstreamKey)
    expect(res.text).not.toContain('internal_trace')
    expect(res.text).not.toContain('debug')
    expect(res.headers['x-upstream-internal']).toBeUndefined()
  })

  it('an upstream 429 that cannot be retried within the max wait: sluice\'s 429 with the upstream\'s retry-after', async () => {
    stack.sim.script([
      {
        kind: 'error',
        status: 429,
        body: { error: { message: 'Rate limit reached for requests', type: 'requests', code: 'rate_limit_exceeded', param: null } },
        headers: { 'retry-after': '7' },
      },
    ])
    const res = await send(stack.gw.url, '/v1/chat/completions', { body: chat('test-model'), headers: { 'x-sluice-max-wait': '2' } })
    expect(res.status).toBe(429)
    expect(res.headers['retry-after']).toBe('7')
    expectErrorBody(res.json(), 'rate_limit_exceeded')
    expect(stack.sim.requests()).toHaveLength(1)
  })

})
