import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { send, startWatchedStack, type WatchedStack } from '../../support/data-plane.js'

// What sluice does not manage goes to the passthrough provider unchanged, except for
// credentials: the provider's key replaces the client's, and nothing that would tell the
// upstream who the client is or steer where the request goes is forwarded.

const passKey = 'sk-pass-key-0123456789'

describe('data plane: passthrough', () => {
  let stack: WatchedStack
  beforeAll(async () => {
    stack = await startWatchedStack({
      gateway: (simUrl) => ({
        providers: {
          sim: { type: 'openai', base_url: `${simUrl}/v1`, keys: [{ id: 'k1', key: 'sk-managed-key-1' }] },
          pass: { type: 'openai', base_url: `${simUrl}/v1`, keys: [{ id: 'p1', key: passKey }] },
        },
        models: { 'test-model': { targets: [{ provider: 'sim', model: 'sim-model' }] } },
        passthrough: { provider: 'pass' },
      }),
    })
  })
  afterAll(() => stack.close())
  beforeEach(() => stack.sim.reset())

  const clientHeaders = {
    authorization: 'Bearer sk-client-own-key',
    cookie: 'session=client-session-cookie',
    'x-forwarded-host': 'evil.example',
    'x-forwarded-for': '203.0.113.9',
    'api-key': 'client-azure-key',
    'x-api-key': 'client-anthropic-key',
    'x-custom-trace': 'trace-123',
  }

  function expectCleanHeaders(headers: Record<string, string>): void {
    expect(headers.authorization).toBe(`Bearer ${passKey}`)
    expect(headers.cookie).toBeUndefined()
    expect(headers['x-forwarded-host']).toBeUndefined()
    expect(headers['x-forwarded-for']).toBeUndefined()
    expect(headers['api-key']).toBeUndefined()
    expect(headers['x-api-key']).toBeUndefined()
    expect(JSON.stringify(headers)).not.toContain('client')
    expect(JSON.stringify(headers)).not.toContain('evil.example')
  }

  it('an unmanaged model goes to the passthrough provider with its key and the model name untouched', async () => {
    const body = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello there' }], max_tokens: 3, temperature: 0.5 }
    const res = await send(stack.gw.url, '/v1/chat/completions', { body, headers: clientHeaders })
    expect(res.status).toBe(200)
    expect(res.json<{ model: string }>().model).toBe('gpt-4o-mini')
    await stack.sim.waitForRequests(1)
    const seen = stack.sim.requests()[0]
    expect(seen?.path).toBe('/v1/chat/completions')
    expect(seen?.body_json).toEqual(body)
    expect(seen?.model).toBe('gpt-4o-mini')
    expectCleanHeaders(seen?.headers ?? {})
    // Harmless end-to-end headers do go through.
    expect(seen?.headers['x-custom-trace']).toBe('trace-123')
  })

  it('an unmanaged model streams through as it came', async () => {
    const res = await send(stack.gw.url, '/v1/chat/completions', { body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], stream: true, max_tokens: 5 }, headers: clientHeaders })
    expect(res.status).toBe(200)
    expect(res.headers['content-type']).toContain('text/event-stream')
    expect(res.text.trimEnd().endsWith('data: [DONE]')).toBe(true)
    await stack.sim.waitForRequests(1)
    expectCleanHeaders(stack.sim.requests()[0]?.headers ?? {})
  })

  it('an unknown /v1/files path goes to the passthrough provider with its key', async () => {
    const res = await send(stack.gw.url, '/v1/files?purpose=batch', { method: 'GET', headers: clientHeaders })
    // The simulator has no files API: its 404 comes back (scrubbed), which proves the trip.
    expect(res.status).toBe(404)
    await stack.sim.waitForRequests(1)
    const seen = stack.sim.requests()[0]
    expect(seen?.path).toBe('/v1/files')
    expect(seen?.method).toBe('GET')
    expectCleanHeaders(seen?.headers ?? {})
    expect(res.text).not.toContain(passKey)
  })

  it('a managed model still goes to its own route, not to passthrough', async () => {
    const res = await send(stack.gw.url, '/v1/chat/completions', { body: { model: 'test-model', messages: [{ role: 'user', content: 'hi' }] }, headers: clientHeaders })
    expect(res.status).toBe(200)
    await stack.sim.waitForRequests(1)
    const seen = stack.sim.requests()[0]
    expect(seen?.headers.authorization).toBe('Bearer sk-managed-key-1')
    expect(seen?.model).toBe('sim-model')
    expect(seen?.headers.cookie).toBeUndefined()
    expect(seen?.headers['x-forwarded-host']).toBeUndefined()
  })

  it('GET /v1/models/{unmanaged} goes to the passthrough provider', async () => {
    const res = await send(stack.gw.url, '/v1/models/gpt-4o-mini', { method: 'GET', headers: clientHeaders })
    expect(res.status).toBe(200)
    expect(res.json()).toMatchObject({ id: 'gpt-4o-mini', object: 'model' })
    await stack.sim.waitForRequests(1)
    expect(stack.sim.requests()[0]?.path).toBe('/v1/models/gpt-4o-mini')
    expectCleanHeaders(stack.sim.requests()[0]?.headers ?? {})
  })
})
