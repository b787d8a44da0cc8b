import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { send } from '../../support/data-plane.js'
import { startStack, type Stack } from '../../support/harness.js'

// Browsers may call the data plane only from the origins listed, and an arbitrary origin is
// never reflected with credentials.

const app = 'https://app.example.com'

function stackWith(cors: Record<string, unknown> | undefined): Promise<Stack> {
  return startStack({
    gateway: (simUrl) => ({
      providers: { sim: { type: 'openai', base_url: `${simUrl}/v1`, keys: [{ id: 'k1', key: 'sk-sim-test-1' }] } },
      models: { 'test-model': { targets: [{ provider: 'sim', model: 'sim-model' }] } },
      ...(cors ? { cors } : {}),
    }),
  })
}

const chat = { model: 'test-model', messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 }
const preflight = (origin: string) => ({ method: 'OPTIONS' as const, headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' } })

describe('data plane: CORS with listed origins and credentials', () => {
  let stack: Stack
  beforeAll(async () => {
    stack = await stackWith({ origins: [app], credentials: true, max_age: '5m' })
  })
  afterAll(() => stack.close())

  it('a listed origin gets its own origin back, credentials, and the headers it may read — on answers and on errors', async () => {
    const ok = await send(stack.gw.url, '/v1/chat/completions', { body: chat, headers: { origin: app } })
    expect(ok.status).toBe(200)
    expect(ok.headers['access-control-allow-origin']).toBe(app)
    expect(ok.headers['access-control-allow-credentials']).toBe('true')
    expect(ok.headers.vary).toContain('Origin')
    expect(ok.headers['access-control-expose-headers']).toContain('x-ratelimit-remaining-requests')
    const missing = await send(stack.gw.url, '/v1/chat/completions', { body: { ...chat, model: 'nope' }, headers: { origin: app } })
    expect(missing.status).toBe(404)
    expect(missing.headers['access-control-allow-origin']).toBe(app)
  })

  it('an unlisted origin gets no CORS headers, and its preflight is refused', async () => {
    const other = await send(stack.gw.url, '/v1/chat/completions', { body: chat, headers: { origin: 'https://evil.example' } })
    expect(other.headers['access-control-allow-origin']).toBeUndefined()
    expect(other.headers['access-control-allow-credentials']).toBeUndefined()
    const refused = await send(stack.gw.url, '/v1/chat/completions', preflight('https://evil.example'))
    expect(refused.status).toBe(403)
    expect((refused.json() as { error: { code: string } }).error.code).toBe('cors_origin_not_allowed')
  })

  it('a listed origin\'s preflight is answered 204 with methods, headers and max-age, and never reaches the upstream', async () => {
    const before = stack.sim.requests().length
    const res = await send(stack.gw.url, '/v1/chat/completions', preflight(app))
    expect(res.status).toBe(204)
    expect(res.headers['access-control-allow-methods']).toContain('POST')
    expect(res.headers['access-control-allow-headers']).toContain('authorization')
    expect(res.headers['access-control-max-age']).toBe('300')
    expect(stack.sim.requests().length).toBe(before)
  })

  it('the admin API and /metrics get no CORS headers', async () => {
    const metrics = await send(stack.gw.url, '/metrics', { method: 'GET', headers: { origin: app } })
    expect(metrics.headers['access-control-allow-origin']).toBeUndefined()
  })
})

describe('data plane: CORS for any origin, and off', () => {
  it('"*" without credentials answers *, never an echo with credentials', async () => {
    const stack = await stackWith({ origins: ['*'] })
    try {
      const res = await send(stack.gw.url, '/v1/chat/completions', { body: chat, headers: { origin: 'https://anything.example' } })
      expect(res.headers['access-control-allow-origin']).toBe('*')
      expect(res.headers['access-control-allow-credentials']).toBeUndefined()
    } finally {
      await stack.close()
    }
  })

  it('off by default: no CORS headers, and OPTIONS is not a preflight', async () => {
    const stack = await stackWith(undefined)
    try {
      const res = await send(stack.gw.url, '/v1/chat/completions', { body: chat, headers: { origin: app } })
      expect(res.status).toBe(200)
      expect(res.headers['access-control-allow-origin']).toBeUndefined()
      expect((await send(stack.gw.url, '/v1/chat/completions', preflight(app))).status).toBe(405)
    } finally {
      await stack.close()
    }
  })
})
