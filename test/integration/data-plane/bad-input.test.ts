import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { expectErrorBody, rawRequest, send, startWatchedStack, type WatchedStack } from '../../support/data-plane.js'

// Bad requests are refused by sluice itself, before any upstream call: the simulator must see
// nothing. No passthrough provider here, so an unknown model is a 404.

const bodyLimit = 1024

describe('data plane: bad input is refused before any upstream call', () => {
  let stack: WatchedStack
  beforeAll(async () => {
    stack = await startWatchedStack({
      gateway: (simUrl) => ({
        server: { body_limit: bodyLimit },
        providers: { sim: { type: 'openai', base_url: `${simUrl}/v1`, keys: [{ id: 'k1', key: 'sk-sim-test-1' }] } },
        models: { 'test-model': { targets: [{ provider: 'sim', model: 'sim-model' }] } },
      }),
    })
  })
  afterAll(async () => {
    // Nothing in this file may have reached the upstream.
    expect(stack.sim.stats().totals.requests).toBe(0)
    await stack.close()
  })
  beforeEach(() => stack.sim.reset())

  const messages = [{ role: 'user', content: 'hi' }]

  function expectNoUpstreamCall(): void {
    expect(stack.sim.requests()).toHaveLength(0)
    expect(stack.sim.stats().totals).toMatchObject({ requests: 0, in_flight: 0 })
  }

  const bodies: { name: string; body: string; status: number; code: string; param: string | null }[] = [
    { name: 'malformed JSON', body: '{"model":"test-model","messages":[', status: 400, code: 'invalid_json', param: null },
    { name: 'a JSON array body', body: JSON.stringify([{ model: 'test-model', messages }]), status: 400, code: 'invalid_json', param: null },
    { name: 'a JSON string body', body: '"hello"', status: 400, code: 'invalid_json', param: null },
    { name: 'an empty body', body: '', status: 400, code: 'invalid_json', param: null },
    { name: 'stream: "yes"', body: JSON.stringify({ model: 'test-model', messages, stream: 'yes' }), status: 400, code: 'invalid_request_error', param: 'stream' },
    { name: 'max_tokens: -1', body: JSON.stringify({ model: 'test-model', messages, max_tokens: -1 }), status: 400, code: 'invalid_request_error', param: 'max_tokens' },
    { name: 'max_tokens: 1.5', body: JSON.stringify({ model: 'test-model', messages, max_tokens: 1.5 }), status: 400, code: 'invalid_request_error', param: 'max_tokens' },
    { name: 'messages: "hi"', body: JSON.stringify({ model: 'test-model', messages: 'hi' }), status: 400, code: 'invalid_request_error', param: 'messages' },
    { name: 'model: 5', body: JSON.stringify({ model: 5, messages }), status: 400, code: 'invalid_request_error', param: 'model' },
    { name: 'a missing model', body: JSON.stringify({ messages }), status: 400, code: 'invalid_request_error', param: 'model' },
    { name: 'an unknown model', body: JSON.stringify({ model: 'gpt-unknown', messages }), status: 404, code: 'model_not_found', param: 'model' },
  ]
  for (const c of bodies) {
    it(`${c.name} → ${c.status} ${c.code}${c.param ? ` (param ${c.param})` : ''}`, async () => {
      const res = await send(stack.gw.url, '/v1/chat/completions', { body: c.body })
      expect(res.status).toBe(c.status)
      expect(res.headers['content-type']).toContain('application/json')
      expect(res.headers['x-request-id']).toBeTruthy()
      expectErrorBody(res.json(), c.code, c.param)
      expectNoUpstreamCall()
    })
  }

  it('other endpoints check their own fields (completions prompt, embeddings input)', async () => {
    const completions = await send(stack.gw.url, '/v1/completions', { body: { model: 'test-model', prompt: 5 } })
    expect(completions.status).toBe(400)
    expectErrorBody(completions.json(), 'invalid_request_error', 'prompt')
    const embeddings = await send(stack.gw.url, '/v1/embeddings', { body: { model: 'test-model', input: [] } })
    expect(embeddings.status).toBe(400)
    expectErrorBody(embeddings.json(), 'invalid_request_error', 'input')
    expectNoUpstreamCall()
  })

  it('an oversized body with content-length → 413 request_too_large, refused before it is sent', async () => {
    // Only the headers go out: the gateway must answer from the declared length alone.
    const res = await rawRequest(
      stack.gw.port,
      ['POST /v1/chat/completions HTTP/1.1', 'Host: sluice.test', 'Content-Type: application/json', `Content-Length: ${bodyLimit * 100}`].join('\r\n'),
    )
    expect(res.status).toBe(413)
    expectErrorBody(res.json(), 'request_too_large')
    expectNoUpstreamCall()
  })

  it('an oversized body with content-length, sent whole → 413 request_too_large', async () => {
    const res = await send(stack.gw.url, '/v1/chat/completions', { body: { model: 'test-model', messages: [{ role: 'user', content: 'x'.repeat(bodyLimit * 2) }] } })
    expect(res.status).toBe(413)
    expectErrorBody(res.json(), 'request_too_large')
    expectNoUpstreamCall()
  })

  it('an oversized chunked body (no content-length) → 413 request_too_large', async () => {
    async function* chunks(): AsyncGenerator<Buffer> {
      yield Buffer.from(`{"model":"test-model","messages":[{"role":"user","content":"`)
      for (let i = 0; i < 4; i++) yield Buffer.from('y'.repeat(bodyLimit / 2))
      yield Buffer.from('"}]}')
    }
    const res = await send(stack.gw.url, '/v1/chat/completions', { body: chunks() })
    expect(res.status).toBe(413)
    expectErrorBody(res.json(), 'request_too_large')
    expectNoUpstreamCall()
  })

  it('a body just under the limit is not refused for its size', async () => {
    const filler = 'z'.repeat(bodyLimit - 200)
    const res = await send(stack.gw.url, '/v1/chat/completions', { body: { model: 'gpt-unknown', messages: [{ role: 'user', content: filler }] } })
    expect(res.status).toBe(404)
  })

  it('GET /v1/chat/completions → 405 method_not_allowed', async () => {
    const res = await send(stack.gw.url, '/v1/chat/completions', { method: 'GET' })
    expect(res.status).toBe(405)
    expectErrorBody(res.json(), 'method_not_allowed')
    expectNoUpstreamCall()
  })

  it('an unknown /v1 path without passthrough → 404 not_found', async () => {
    const res = await send(stack.gw.url, '/v1/files', { method: 'GET' })
    expect(res.status).toBe(404)
    expectErrorBody(res.json(), 'not_found')
    expectNoUpstreamCall()
  })
})
