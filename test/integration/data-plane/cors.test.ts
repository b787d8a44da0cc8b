import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SluiceConfig, type SluiceConfigInput } from '../../../src/config/schema.js'
import { expectErrorBody, send, type Reply } from '../../support/data-plane.js'
import { startStack, type Stack } from '../../support/harness.js'

// Browsers may call the data plane only from the origins listed, an arbitrary origin is never
// reflected with credentials, and CORS is off unless configured. The headers are on every
// data-plane answer, errors included; the admin API and the operator endpoints get none.

const app = 'https://app.example.com'
const evil = 'https://evil.example'

function stackWith(cors: SluiceConfigInput['cors'] | undefined, extra: Partial<SluiceConfigInput> = {}): Promise<Stack> {
  return startStack({
    gateway: (simUrl) => ({
      providers: { sim: { type: 'openai', base_url: `${simUrl}/v1`, keys: [{ id: 'k1', key: 'sk-sim-test-1' }] } },
      models: { 'test-model': { targets: [{ provider: 'sim', model: 'sim-model' }] } },
      ...(cors ? { cors } : {}),
      ...extra,
    }),
  })
}

const chat = { model: 'test-model', messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 }
const preflight = (origin: string, requestHeaders = 'authorization, content-type') => ({
  method: 'OPTIONS' as const,
  headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': requestHeaders },
})

function corsHeaders(res: Reply): string[] {
  return Object.keys(res.headers).filter((name) => name.startsWith('access-control-'))
}

describe('data plane: CORS with listed origins and credentials', () => {
  let stack: Stack
  beforeAll(async () => {
    stack = await stackWith({ origins: [app], credentials: true, max_age: '5m' })
  })
  afterAll(() => stack.close())

  it('a listed origin gets its own origin back, credentials and the headers it may read on a 200', async () => {
    const ok = await send(stack.gw.url, '/v1/chat/completions', { body: chat, headers: { origin: app } })
    expect(ok.status).toBe(200)
    expect(ok.headers['access-control-allow-origin']).toBe(app)
    expect(ok.headers['access-control-allow-credentials']).toBe('true')
    expect(ok.headers.vary).toContain('Origin')
    const exposed = ok.headers['access-control-expose-headers']?.split(', ')
    expect(exposed).toEqual(expect.arrayContaining(['x-request-id', 'retry-after', 'x-ratelimit-remaining-requests', 'x-sluice-deployment']))
    // What the browser is allowed to read is really there.
    expect(ok.headers['x-request-id']).toBeDefined()
    expect(ok.headers['x-sluice-deployment']).toBeDefined()
  })

  it('a listed origin gets them on a stream too', async () => {
    const res = await send(stack.gw.url, '/v1/chat/completions', { body: { ...chat, stream: true }, headers: { origin: app } })
    expect(res.status).toBe(200)
    expect(res.headers['content-type']).toContain('text/event-stream')
    expect(res.headers['access-control-allow-origin']).toBe(app)
  })

  it('a listed origin gets them on errors: 404 model_not_found, 404 on /v1/models/{id}, 400 invalid_path', async () => {
    const missing = await send(stack.gw.url, '/v1/chat/completions', { body: { ...chat, model: 'nope' }, headers: { origin: app } })
    expectErrorBody(missing.json(), 'model_not_found', 'model')
    expect(missing.status).toBe(404)
    expect(missing.headers['access-control-allow-origin']).toBe(app)
    expect(missing.headers['access-control-allow-credentials']).toBe('true')
    const model = await send(stack.gw.url, '/v1/models/nope', { headers: { origin: app } })
    expect(model.status).toBe(404)
    expect(model.headers['access-control-allow-origin']).toBe(app)
    const badPath = await send(stack.gw.url, '/v1/files/a%2Fb', { headers: { origin: app } })
    expect(badPath.status).toBe(400)
    expect(badPath.headers['access-control-allow-origin']).toBe(app)
  })

  it('an unlisted origin is served as usual, with no CORS headers (the browser blocks it)', async () => {
    const other = await send(stack.gw.url, '/v1/chat/completions', { body: chat, headers: { origin: evil } })
    expect(other.status).toBe(200)
    expect(corsHeaders(other)).toEqual([])
    // The answer depends on the origin, so shared caches must keep them apart.
    expect(other.headers.vary).toContain('Origin')
    const models = await send(stack.gw.url, '/v1/models', { headers: { origin: evil } })
    expect(models.status).toBe(200)
    expect(corsHeaders(models)).toEqual([])
  })

  it('an unlisted origin\'s preflight is refused with 403 cors_origin_not_allowed, counted and logged like any refusal', async () => {
    const refused = await send(stack.gw.url, '/v1/chat/completions', { ...preflight(evil), headers: { ...preflight(evil).headers, 'x-request-id': 'cors-refused-1' } })
    expect(refused.status).toBe(403)
    expect(corsHeaders(refused)).toEqual([])
    expect(expectErrorBody(refused.json(), 'cors_origin_not_allowed').type).toBe('permission_error')
    expect(refused.headers['x-request-id']).toBe('cors-refused-1')
    const logs = await stack.logs.waitForAccessLog((all) => all.some((r) => r.requestId === 'cors-refused-1'))
    expect(logs.find((r) => r.requestId === 'cors-refused-1')).toMatchObject({ status: 403, error: 'cors_origin_not_allowed', outcome: 'rejected' })
  })

  it('a listed origin\'s preflight is answered 204 and never reaches the upstream', async () => {
    const before = stack.sim.requests().length
    const res = await send(stack.gw.url, '/v1/chat/completions', preflight(app, 'authorization,content-type,x-stainless-os'))
    expect(res.status).toBe(204)
    expect(res.headers['access-control-allow-origin']).toBe(app)
    expect(res.headers['access-control-allow-credentials']).toBe('true')
    expect(res.headers['access-control-allow-methods']).toBe('GET, POST, OPTIONS')
    expect(res.headers['access-control-allow-headers']).toBe('authorization, content-type, x-stainless-os')
    expect(res.headers['access-control-max-age']).toBe('300')
    expect(res.bytes.length).toBe(0)
    // A preflight on a passthrough path is answered the same way.
    expect((await send(stack.gw.url, '/v1/files', preflight(app))).status).toBe(204)
    expect(stack.sim.requests().length).toBe(before)
  })

  it('a preflight asking for a malformed header list gets the fixed list, not an echo', async () => {
    const res = await send(stack.gw.url, '/v1/chat/completions', preflight(app, 'authorization, x-bad header'))
    expect(res.status).toBe(204)
    const allowed = res.headers['access-control-allow-headers']?.split(', ')
    expect(allowed).toEqual(expect.arrayContaining(['authorization', 'content-type', 'x-api-key', 'x-priority', 'x-session-id', 'anthropic-version']))
    expect(allowed).not.toContain('x-bad header')
  })

  it('the admin API, /metrics, /status and /health get no CORS headers, and no preflight answer', async () => {
    for (const path of ['/metrics', '/status', '/health', '/health/ready', '/api/admin/keys']) {
      const res = await send(stack.gw.url, path, { headers: { origin: app } })
      expect(corsHeaders(res), path).toEqual([])
      const pre = await send(stack.gw.url, path, preflight(app))
      expect(pre.status, path).not.toBe(204)
      expect(corsHeaders(pre), path).toEqual([])
    }
  })
})

describe('data plane: CORS on a 401', () => {
  it('a listed origin can read the 401 of a request without a valid key', async () => {
    const stack = await stackWith({ origins: [app] }, { auth: 'required' })
    try {
      const res = await send(stack.gw.url, '/v1/chat/completions', { body: chat, headers: { origin: app, authorization: 'Bearer sk-nope' } })
      expect(res.status).toBe(401)
      expectErrorBody(res.json(), 'invalid_api_key')
      expect(res.headers['access-control-allow-origin']).toBe(app)
      expect(res.headers['access-control-allow-credentials']).toBeUndefined()
      expect(res.headers['access-control-expose-headers']).toContain('x-request-id')
    } finally {
      await stack.close()
    }
  })
})

describe('data plane: CORS for any origin, and off', () => {
  it('"*" answers * without credentials or Vary, and answers any origin\'s preflight', async () => {
    const stack = await stackWith({ origins: ['*'] })
    try {
      const res = await send(stack.gw.url, '/v1/chat/completions', { body: chat, headers: { origin: 'https://anything.example' } })
      expect(res.headers['access-control-allow-origin']).toBe('*')
      expect(res.headers['access-control-allow-credentials']).toBeUndefined()
      expect(res.headers.vary ?? '').not.toContain('Origin')
      const pre = await send(stack.gw.url, '/v1/chat/completions', preflight('https://anything.example'))
      expect(pre.status).toBe(204)
      expect(pre.headers['access-control-allow-origin']).toBe('*')
      expect(pre.headers['access-control-allow-credentials']).toBeUndefined()
    } finally {
      await stack.close()
    }
  })

  it('"*" with credentials is refused by the config', () => {
    const parsed = SluiceConfig.safeParse({ providers: {}, cors: { origins: ['*'], credentials: true } })
    expect(parsed.success).toBe(false)
    expect(parsed.error?.issues.map((i) => i.path.join('.'))).toContain('cors.credentials')
  })

  it('off by default: no CORS headers on answers or errors, and OPTIONS is refused 405 as before', async () => {
    const stack = await stackWith(undefined)
    try {
      const res = await send(stack.gw.url, '/v1/chat/completions', { body: chat, headers: { origin: app } })
      expect(res.status).toBe(200)
      expect(corsHeaders(res)).toEqual([])
      expect(res.headers.vary ?? '').not.toContain('Origin')
      const missing = await send(stack.gw.url, '/v1/chat/completions', { body: { ...chat, model: 'nope' }, headers: { origin: app } })
      expect(missing.status).toBe(404)
      expect(corsHeaders(missing)).toEqual([])
      const pre = await send(stack.gw.url, '/v1/chat/completions', preflight(app))
      expect(pre.status).toBe(405)
      expectErrorBody(pre.json(), 'method_not_allowed')
      expect(corsHeaders(pre)).toEqual([])
    } finally {
      await stack.close()
    }
  })
})
