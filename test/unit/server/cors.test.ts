import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import type { CorsSettings, Runtime } from '../../../src/config/runtime.js'
import type { RequestContext } from '../../../src/context.js'
import { sendError, sendJson } from '../../../src/respond.js'
import { decideCors } from '../../../src/server/cors.js'
import { createHandler } from '../../../src/server/handler.js'
import { StatusTracker } from '../../../src/server/status.js'
import { createMetrics } from '../../../src/telemetry/metrics.js'
import { send } from '../../support/data-plane.js'

const app = 'https://app.example.com'
const evil = 'https://evil.example'

function settings(origins: string[], credentials = false): CorsSettings {
  return Object.freeze({ origins: new Set(origins), any: origins.includes('*'), credentials, maxAgeSeconds: '600' })
}

const listed = settings([app])
const listedWithCredentials = settings([app], true)
const anyOrigin = settings(['*'])
// The config refuses "*" with credentials; the code must still never pair them.
const anyWithCredentials = settings(['*', app], true)

const exposed = 'x-request-id, retry-after, x-ratelimit-limit-requests, x-ratelimit-remaining-requests, x-ratelimit-reset-requests, x-ratelimit-limit-tokens, x-ratelimit-remaining-tokens, x-ratelimit-reset-tokens, x-sluice-deployment, x-sluice-attempts, x-sluice-fallback, x-sluice-group'

interface Case {
  readonly name: string
  readonly cors: CorsSettings
  readonly method?: string
  readonly origin?: string
  readonly requestMethod?: string
  readonly requestHeaders?: string
  readonly kind: 'continue' | 'preflight' | 'refused'
  /** Exactly the headers set; `allow-headers: default` stands for the fixed list. */
  readonly headers: Record<string, string>
}

const POST = 'POST'
const OPTIONS = 'OPTIONS'

const cases: Case[] = [
  { name: 'listed origin: echoed, with Vary and the headers it may read', cors: listed, method: POST, origin: app, kind: 'continue', headers: { 'access-control-allow-origin': app, vary: 'Origin', 'access-control-expose-headers': exposed } },
  { name: 'listed origin with credentials', cors: listedWithCredentials, method: POST, origin: app, kind: 'continue', headers: { 'access-control-allow-origin': app, vary: 'Origin', 'access-control-allow-credentials': 'true', 'access-control-expose-headers': exposed } },
  { name: 'unlisted origin: served, no CORS headers, Vary only', cors: listedWithCredentials, method: POST, origin: evil, kind: 'continue', headers: { vary: 'Origin' } },
  { name: 'no Origin under a list: Vary only', cors: listed, method: POST, kind: 'continue', headers: { vary: 'Origin' } },
  { name: 'the literal origin "null" is not listed', cors: listedWithCredentials, method: POST, origin: 'null', kind: 'continue', headers: { vary: 'Origin' } },
  { name: 'any origin: *, no Vary, no credentials', cors: anyOrigin, method: POST, origin: evil, kind: 'continue', headers: { 'access-control-allow-origin': '*', 'access-control-expose-headers': exposed } },
  { name: 'any origin, no Origin header: nothing', cors: anyOrigin, method: POST, kind: 'continue', headers: {} },
  { name: 'any + credentials (refused by config): a listed origin is echoed with credentials', cors: anyWithCredentials, method: POST, origin: app, kind: 'continue', headers: { 'access-control-allow-origin': app, vary: 'Origin', 'access-control-allow-credentials': 'true', 'access-control-expose-headers': exposed } },
  { name: 'any + credentials (refused by config): another origin is neither echoed nor given *', cors: anyWithCredentials, method: POST, origin: evil, kind: 'continue', headers: { vary: 'Origin' } },
  { name: 'any + credentials (refused by config): "Origin: *" does not match the * switch', cors: anyWithCredentials, method: POST, origin: '*', kind: 'continue', headers: { vary: 'Origin' } },
  { name: 'preflight from a listed origin: 204 headers, requested headers echoed', cors: listedWithCredentials, method: OPTIONS, origin: app, requestMethod: 'POST', requestHeaders: 'authorization,content-type', kind: 'preflight', headers: { 'access-control-allow-origin': app, vary: 'Origin', 'access-control-allow-credentials': 'true', 'access-control-allow-methods': 'GET, POST, OPTIONS', 'access-control-max-age': '600', 'access-control-allow-headers': 'authorization, content-type' } },
  { name: 'preflight under any origin', cors: anyOrigin, method: OPTIONS, origin: evil, requestMethod: 'POST', requestHeaders: 'x-stainless-os, authorization', kind: 'preflight', headers: { 'access-control-allow-origin': '*', 'access-control-allow-methods': 'GET, POST, OPTIONS', 'access-control-max-age': '600', 'access-control-allow-headers': 'x-stainless-os, authorization' } },
  { name: 'preflight asking for no headers: the default list', cors: listed, method: OPTIONS, origin: app, requestMethod: 'POST', kind: 'preflight', headers: { 'access-control-allow-origin': app, vary: 'Origin', 'access-control-allow-methods': 'GET, POST, OPTIONS', 'access-control-max-age': '600', 'access-control-allow-headers': 'default' } },
  { name: 'preflight with a header name that is not a token: the default list, not an echo', cors: listed, method: OPTIONS, origin: app, requestMethod: 'POST', requestHeaders: 'authorization, x-a b', kind: 'preflight', headers: { 'access-control-allow-origin': app, vary: 'Origin', 'access-control-allow-methods': 'GET, POST, OPTIONS', 'access-control-max-age': '600', 'access-control-allow-headers': 'default' } },
  { name: 'preflight with an empty name in the list: the default list', cors: listed, method: OPTIONS, origin: app, requestMethod: 'POST', requestHeaders: 'authorization,,content-type', kind: 'preflight', headers: { 'access-control-allow-origin': app, vary: 'Origin', 'access-control-allow-methods': 'GET, POST, OPTIONS', 'access-control-max-age': '600', 'access-control-allow-headers': 'default' } },
  { name: 'preflight smuggling a header line: the default list', cors: listed, method: OPTIONS, origin: app, requestMethod: 'POST', requestHeaders: 'x-a:1', kind: 'preflight', headers: { 'access-control-allow-origin': app, vary: 'Origin', 'access-control-allow-methods': 'GET, POST, OPTIONS', 'access-control-max-age': '600', 'access-control-allow-headers': 'default' } },
  { name: 'preflight with a very long list: the default list', cors: listed, method: OPTIONS, origin: app, requestMethod: 'POST', requestHeaders: Array.from({ length: 200 }, (_, i) => `x-h${i}`).join(','), kind: 'preflight', headers: { 'access-control-allow-origin': app, vary: 'Origin', 'access-control-allow-methods': 'GET, POST, OPTIONS', 'access-control-max-age': '600', 'access-control-allow-headers': 'default' } },
  { name: 'preflight from an unlisted origin: refused', cors: listedWithCredentials, method: OPTIONS, origin: evil, requestMethod: 'POST', requestHeaders: 'authorization', kind: 'refused', headers: { vary: 'Origin' } },
  { name: 'OPTIONS without Access-Control-Request-Method is not a preflight', cors: listed, method: OPTIONS, origin: app, kind: 'continue', headers: { 'access-control-allow-origin': app, vary: 'Origin', 'access-control-expose-headers': exposed } },
  { name: 'OPTIONS from an unlisted origin without Access-Control-Request-Method: not refused', cors: listed, method: OPTIONS, origin: evil, kind: 'continue', headers: { vary: 'Origin' } },
]

describe('decideCors', () => {
  for (const c of cases) {
    it(c.name, () => {
      const answer = decideCors(c.cors, c.method, c.origin, c.requestMethod, c.requestHeaders)
      expect(answer.kind).toBe(c.kind)
      const headers = Object.fromEntries(answer.headers)
      expect(Object.keys(headers)).toHaveLength(answer.headers.length) // no header set twice
      if (c.headers['access-control-allow-headers'] === 'default') {
        expect(headers['access-control-allow-headers']?.split(', ')).toEqual(expect.arrayContaining(['authorization', 'content-type', 'x-api-key', 'x-priority', 'x-session-id', 'x-sluice-max-wait', 'anthropic-version', 'openai-organization', 'x-request-id']))
        expect({ ...headers, 'access-control-allow-headers': 'default' }).toEqual(c.headers)
      } else {
        expect(headers).toEqual(c.headers)
      }
    })
  }

  it('never allows credentials together with * or an origin that is not listed', () => {
    for (const c of cases) {
      const headers = Object.fromEntries(decideCors(c.cors, c.method, c.origin, c.requestMethod, c.requestHeaders).headers)
      if (headers['access-control-allow-credentials'] === undefined) continue
      expect(headers['access-control-allow-origin']).not.toBe('*')
      expect([...c.cors.origins]).toContain(headers['access-control-allow-origin'])
    }
  })

  it('matches a listed origin as browsers serialize it (lower case, no default port)', () => {
    const cors = settings(['HTTPS://App.Example.com:443', 'http://localhost:5173'])
    expect(Object.fromEntries(decideCors(cors, 'POST', app, undefined, undefined).headers)['access-control-allow-origin']).toBe(app)
    expect(Object.fromEntries(decideCors(cors, 'POST', 'http://localhost:5173', undefined, undefined).headers)['access-control-allow-origin']).toBe('http://localhost:5173')
    expect(Object.fromEntries(decideCors(cors, 'POST', 'http://localhost:5174', undefined, undefined).headers)['access-control-allow-origin']).toBeUndefined()
  })
})

describe('the handler and CORS', () => {
  let server: Server | undefined
  afterEach(async () => {
    await new Promise((resolve) => server?.close(resolve))
    server = undefined
  })

  /** A handler whose pipeline answers 200, or its refusal; it records what reached it. */
  async function serve(cors: CorsSettings | null): Promise<{ url: string; reached: string[] }> {
    const reached: string[] = []
    const runtime = { cors } as unknown as Runtime
    const handle = createHandler({
      runtime: () => runtime,
      acquireRuntime: () => runtime,
      releaseRuntime: () => undefined,
      pipeline: (ctx: RequestContext) => {
        reached.push(`${ctx.req.method} ${ctx.refusal?.code ?? 'ok'}`)
        if (ctx.refusal) sendError(ctx.res, ctx.refusal, ctx.id)
        else sendJson(ctx.res, 200, '{}', { 'x-request-id': ctx.id })
        return Promise.resolve()
      },
      checkCaller: () => Promise.resolve(),
      status: new StatusTracker(),
      metrics: createMetrics(),
      isDraining: () => false,
      onIdle: () => undefined,
    })
    server = createServer(handle)
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve))
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, reached }
  }

  const preflight = (origin: string) => ({ method: 'OPTIONS' as const, headers: { origin, 'access-control-request-method': 'POST' } })

  it('off: no CORS headers, and a preflight is refused by the pipeline like any OPTIONS (405)', async () => {
    const { url, reached } = await serve(null)
    const res = await send(url, '/v1/chat/completions', { body: {}, headers: { origin: app } })
    expect(Object.keys(res.headers).filter((h) => h.startsWith('access-control-') || h === 'vary')).toEqual([])
    await send(url, '/v1/chat/completions', preflight(app))
    expect(reached).toEqual(['POST ok', 'OPTIONS method_not_allowed'])
  })

  it('on: headers are set before the pipeline, so its answers carry them, errors included', async () => {
    const { url, reached } = await serve(listedWithCredentials)
    const ok = await send(url, '/v1/chat/completions', { body: {}, headers: { origin: app } })
    expect(ok.headers['access-control-allow-origin']).toBe(app)
    expect(ok.headers['access-control-allow-credentials']).toBe('true')
    const badPath = await send(url, '/v1/files/a%2Fb', { headers: { origin: app } })
    expect(badPath.status).toBe(400)
    expect(badPath.headers['access-control-allow-origin']).toBe(app)
    expect(reached).toEqual(['POST ok', 'GET invalid_path'])
  })

  it('on: an allowed preflight is answered here; a refused one goes through the pipeline as a 403', async () => {
    const { url, reached } = await serve(listed)
    const allowed = await send(url, '/v1/chat/completions', preflight(app))
    expect(allowed.status).toBe(204)
    const refused = await send(url, '/v1/chat/completions', preflight(evil))
    expect(refused.status).toBe(403)
    expect(refused.headers['access-control-allow-origin']).toBeUndefined()
    expect(refused.json<{ error: { code: string; type: string } }>().error).toMatchObject({ code: 'cors_origin_not_allowed', type: 'permission_error' })
    expect(reached).toEqual(['OPTIONS cors_origin_not_allowed'])
  })

  it('on: routes that are not the data plane get no CORS headers', async () => {
    const { url } = await serve(listed)
    for (const path of ['/health', '/metrics', '/api/admin/keys', '/nope']) {
      const res = await send(url, path, { headers: { origin: app } })
      expect(res.headers['access-control-allow-origin'], path).toBeUndefined()
      expect(res.headers.vary, path).toBeUndefined()
    }
  })
})
