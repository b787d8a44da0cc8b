import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { expectErrorBody, rawRequest, startWatchedStack, type WatchedStack } from '../../support/data-plane.js'

// The guarded catch-all: with a passthrough provider configured, anything under /v1 may go
// upstream, so a target that could mean another path (or another host) upstream, or a header
// that would smuggle one, is refused with 400 before any upstream call. Sent on raw sockets:
// undici and fetch would normalise these targets or refuse these headers themselves.

describe('data plane: traversal and smuggling on the passthrough catch-all', () => {
  let stack: WatchedStack
  beforeAll(async () => {
    stack = await startWatchedStack({
      gateway: (simUrl) => ({
        providers: { pass: { type: 'openai', base_url: `${simUrl}/v1`, keys: [{ id: 'p1', key: 'sk-pass-key-1' }] } },
        passthrough: { provider: 'pass' },
      }),
    })
  })
  afterAll(async () => {
    expect(stack.sim.stats().totals.requests).toBe(0)
    await stack.close()
  })
  beforeEach(() => stack.sim.reset())

  const head = (target: string, ...headers: string[]): string => [`GET ${target} HTTP/1.1`, 'Host: sluice.test', ...headers].join('\r\n')

  const targets = [
    '/v1/../admin',
    '/v1/./files',
    '/v1/%2e%2e/x',
    '/v1/%2E%2E/x',
    '/v1/.%2e/x',
    '/v1/files%2fx',
    '/v1/files%2Fx',
    '/v1/files%5cx',
    '/v1/files\\..\\x',
    '/v1//files',
    '/v1/files/..',
    'http://evil/v1/x',
    'http://127.0.0.1/v1/files',
    '//evil/v1/x',
    '/v1/%252e%252e/admin',
    '/v1/files/%252e%252e',
    '/v1/%c0%ae%c0%ae/admin',
    '/v1/files/%c0%ae',
    '/v1/files/%',
    '/v1/files/%zz',
  ]
  for (const target of targets) {
    it(`${target} → 400 invalid_path`, async () => {
      const res = await rawRequest(stack.gw.port, head(target))
      expect(res.status).toBe(400)
      expectErrorBody(res.json(), 'invalid_path')
      expect(stack.sim.requests()).toHaveLength(0)
    })
  }

  // Passed through, these would reach the upstream's chat endpoint around the queue and the
  // pacer; served as the managed endpoint, the body is checked first (and refused here).
  for (const target of ['/v1/Chat/Completions', '/v1/chat/completions/', '/v1/CHAT/completions/?x=1', '/v1/%63hat/completions']) {
    it(`POST ${target} is the managed chat endpoint, not passthrough`, async () => {
      const body = '{"model":"gpt-4o-mini"}'
      const res = await rawRequest(stack.gw.port, head(target, 'Content-Type: application/json', `Content-Length: ${body.length}`).replace('GET ', 'POST '), body)
      expect(res.status).toBe(400)
      expectErrorBody(res.json(), 'invalid_request_error', 'messages')
      expect(stack.sim.requests()).toHaveLength(0)
    })
  }

  it('Connection: host (stripping Host at the next hop) → 400 invalid_header', async () => {
    const res = await rawRequest(stack.gw.port, head('/v1/files', 'Connection: keep-alive, host'))
    expect(res.status).toBe(400)
    expectErrorBody(res.json(), 'invalid_header', 'connection')
    expect(stack.sim.requests()).toHaveLength(0)
  })

  it('Connection naming authorization or content-length → 400 invalid_header', async () => {
    for (const named of ['authorization', 'content-length']) {
      const res = await rawRequest(stack.gw.port, head('/v1/files', `Connection: ${named}`))
      expect(res.status).toBe(400)
      expectErrorBody(res.json(), 'invalid_header', 'connection')
    }
    expect(stack.sim.requests()).toHaveLength(0)
  })

  it('two Host headers → 400 invalid_header', async () => {
    const res = await rawRequest(stack.gw.port, head('/v1/files', 'Host: evil.example'))
    expect(res.status).toBe(400)
    expectErrorBody(res.json(), 'invalid_header', 'host')
    expect(stack.sim.requests()).toHaveLength(0)
  })

  it('a refused smuggling attempt leaves no upstream timer behind', async () => {
    // Each refused request must release everything it set up for the upstream exchange (its
    // `total` timeout above all: 10 minutes holding the request's objects and the event loop).
    // `Connection: close` lets the server close each socket at once, so no keep-alive timer counts.
    const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length
    const before = timers()
    const n = 20
    for (let i = 0; i < n; i++) {
      const res = await rawRequest(stack.gw.port, head('/v1/files', 'Connection: close, host'))
      expect(res.status).toBe(400)
    }
    expect(timers() - before).toBeLessThan(n / 2)
  })
})
