import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { expectErrorBody, rawRequest, startWatchedStack, type WatchedStack } from '../../support/data-plane.js'

// Passthrough forwards only the methods the providers' APIs use. TRACE above all must never
// reach an upstream: an RFC-compliant one echoes the request back, injected key included.

describe('data plane: methods on the passthrough catch-all', () => {
  let stack: WatchedStack
  beforeAll(async () => {
    stack = await startWatchedStack({
      gateway: (simUrl) => ({
        providers: { pass: { type: 'openai', base_url: `${simUrl}/v1`, keys: [{ id: 'p1', key: 'sk-pass-key-1' }] } },
        models: { 'test-model': { targets: [{ provider: 'pass', model: 'sim-model' }] } },
        passthrough: { provider: 'pass' },
      }),
    })
  })
  afterAll(() => stack.close())
  beforeEach(() => stack.sim.reset())

  const head = (method: string, target: string, ...headers: string[]): string => [`${method} ${target} HTTP/1.1`, 'Host: sluice.test', 'Connection: close', ...headers].join('\r\n')
  const passthroughAllow = 'GET, POST, PUT, PATCH, DELETE, OPTIONS'

  for (const method of ['TRACE', 'PROPFIND', 'MKCOL', 'LOCK', 'COPY', 'MOVE', 'PURGE', 'LINK', 'SEARCH', 'REPORT', 'HEAD']) {
    for (const target of ['/v1/files', '/v1/models/gpt-4o-mini']) {
      it(`${method} ${target} → 405 method_not_allowed with Allow, never forwarded`, async () => {
        const res = await rawRequest(stack.gw.port, head(method, target))
        expect(res.status).toBe(405)
        expect(res.headers.allow).toBe(passthroughAllow)
        expect(res.headers['x-request-id']).toMatch(/.+/)
        // A HEAD answer carries no body.
        if (method !== 'HEAD') expectErrorBody(res.json(), 'method_not_allowed')
        expect(stack.sim.requests()).toHaveLength(0)
      })
    }
  }

  it('the managed routes say what they accept: POST on endpoints, GET on the model list', async () => {
    const chat = await rawRequest(stack.gw.port, head('TRACE', '/v1/chat/completions'))
    expect(chat.status).toBe(405)
    expect(chat.headers.allow).toBe('POST')
    expectErrorBody(chat.json(), 'method_not_allowed')
    const models = await rawRequest(stack.gw.port, head('DELETE', '/v1/models'))
    expect(models.status).toBe(405)
    expect(models.headers.allow).toBe('GET')
    const model = await rawRequest(stack.gw.port, head('PUT', '/v1/models/test-model', 'Content-Length: 0'))
    expect(model.status).toBe(405)
    expect(model.headers.allow).toBe('GET')
    expect(stack.sim.requests()).toHaveLength(0)
  })

  for (const method of ['GET', 'DELETE', 'PUT', 'PATCH']) {
    it(`${method} /v1/files/abc still goes to the passthrough provider`, async () => {
      const res = await rawRequest(stack.gw.port, head(method, '/v1/files/abc', 'Content-Length: 0'))
      expect(res.status).not.toBe(405)
      expect(stack.sim.requests().map((r) => r.method)).toEqual([method])
    })
  }
})
