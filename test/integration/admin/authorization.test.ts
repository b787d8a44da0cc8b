import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Router, type Route } from '../../../src/admin/router.js'
import { defaultGatewayConfig, startStack, type Stack } from '../../support/harness.js'
import { adminClient, adminKey, createdJson, dummyPath, expectError, okJson, type AdminCallOptions } from './support.js'

// Who may call what, for every route the gateway registered: the table is read from the running
// gateway, so a route added later is covered without touching this file, and a route cannot be
// registered without a role in the first place (RouteSpec.role is required; see the last test).

const readOnlyKey = 'adm-read-only-5e8a1c3f7b29d4e6'
const wrongKey = 'adm-wrong-0d9c8b7a6f5e4d3c2b1a'

/** The routes this change adds; the table must hold them (and whatever else exists). */
const expectedRoutes = [
  'GET /api/admin/consumers',
  'POST /api/admin/consumers',
  'GET /api/admin/consumers/{id}',
  'PATCH /api/admin/consumers/{id}',
  'DELETE /api/admin/consumers/{id}',
  'POST /api/admin/consumers/{id}/keys',
  'GET /api/admin/consumers/{id}/keys',
  'GET /api/admin/keys',
  'POST /api/admin/keys/{id_or_prefix}/revoke',
  'GET /api/admin/usage',
  'GET /api/admin/usage/daily',
  'GET /api/admin/sessions',
  'GET /api/admin/sessions/{id}',
  'GET /api/admin/tiers',
  'GET /api/admin/config',
  'POST /api/admin/reload',
  'GET /api/admin/openapi.json',
  'GET /api/admin/adaptive/keys',
  'GET /api/admin/deployments',
]

/** The status of a stream, and its body when it is an error; the stream itself is closed at once. */
async function streamReply(url: string, opts: AdminCallOptions): Promise<{ status: number; json<T>(): T }> {
  const auth = opts.authorization === undefined ? `Bearer ${adminKey}` : opts.authorization
  const abort = new AbortController()
  const res = await fetch(url, { headers: auth === null ? {} : { authorization: auth }, signal: abort.signal })
  const text = res.status >= 400 ? await res.text() : ''
  abort.abort()
  return { status: res.status, json: <T>() => JSON.parse(text) as T }
}

describe('admin API: the authorization matrix over every registered route', () => {
  let stack: Stack
  let virtualKey: string
  const admin = adminClient(() => stack.gw.url)
  const routes = (): readonly Route[] => stack.gw.adminRoutes

  beforeAll(async () => {
    stack = await startStack({
      gateway: (simUrl) => ({ ...defaultGatewayConfig(simUrl), admin: { keys: [adminKey], read_only_keys: [readOnlyKey] }, tiers: { basic: {} } }),
    })
    const consumer = createdJson<{ id: string }>(await admin('/api/admin/consumers', { method: 'POST', body: { name: 'matrix', tier: 'basic' } }))
    virtualKey = createdJson<{ key: string }>(await admin(`/api/admin/consumers/${consumer.id}/keys`, { method: 'POST', body: {} })).key
    // The key is live on the data plane: a 403 below is the admin API refusing it, not a dead key.
    const chat = await fetch(`${stack.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${virtualKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'test-model', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 }),
    })
    expect(chat.status).toBe(200)
  })
  afterAll(() => stack?.close())

  it('the table holds every route this API documents, each with a role', () => {
    const table = routes().map((r) => `${r.method} ${r.path}`)
    for (const route of expectedRoutes) expect(table).toContain(route)
    expect(new Set(table).size).toBe(table.length)
    for (const r of routes()) expect(['read', 'admin']).toContain(r.spec.role)
    for (const r of routes()) expect(r.spec.summary.length).toBeGreaterThan(0)
  })

  // One test per route, built when the test runs: the table exists only once the gateway does.
  it('every route: 401 without a key, 403 for a wrong key and for a data-plane key, the read-only key only on read routes', async () => {
    const failures: string[] = []
    const check = async (route: Route, what: string, opts: AdminCallOptions, accept: (status: number, code: string | null) => boolean): Promise<void> => {
      // An event stream never ends by itself: its status and error body are read, then it is left.
      const reply = route.path === '/api/admin/events' ? await streamReply(stack.gw.url + route.path, opts) : await admin(dummyPath(route.path), { method: route.method, ...opts })
      const code = reply.status >= 400 ? (reply.json<{ error?: { code?: string } }>().error?.code ?? null) : null
      if (!accept(reply.status, code)) failures.push(`${route.method} ${route.path} with ${what}: ${reply.status} ${code ?? ''}`)
    }
    // The route was reached (its handler ran), not refused for its path or method.
    const reached = (status: number, code: string | null): boolean => status !== 401 && status !== 403 && code !== 'not_found' && code !== 'method_not_allowed'
    expect(routes().length).toBeGreaterThanOrEqual(expectedRoutes.length)
    for (const route of routes()) {
      await check(route, 'no Authorization', { authorization: null }, (s, c) => s === 401 && c === 'missing_admin_key')
      await check(route, 'a wrong key', { authorization: `Bearer ${wrongKey}` }, (s, c) => s === 403 && c === 'invalid_admin_key')
      await check(route, 'a data-plane virtual key', { authorization: `Bearer ${virtualKey}` }, (s, c) => s === 403 && c === 'invalid_admin_key')
      if (route.spec.role === 'admin') {
        await check(route, 'the read-only key', { authorization: `Bearer ${readOnlyKey}` }, (s, c) => s === 403 && c === 'read_only_admin_key')
      } else {
        await check(route, 'the read-only key', { authorization: `Bearer ${readOnlyKey}` }, reached)
      }
      await check(route, 'the admin key', {}, reached)
    }
    expect(failures).toEqual([])
  })

  it('a refusal of the read-only key names the method and path', async () => {
    const error = expectError(await admin('/api/admin/reload', { method: 'POST', authorization: `Bearer ${readOnlyKey}` }), 403, 'read_only_admin_key')
    expect(error.message).toContain('POST /api/admin/reload')
  })

  it('the OpenAPI document lists every route with its role, parameters and body schema', async () => {
    const doc = okJson<{ paths: Record<string, Record<string, { 'x-sluice-role': string; summary: string; parameters: { name: string; in: string }[]; requestBody?: unknown }>> }>(
      await admin('/api/admin/openapi.json', { authorization: `Bearer ${readOnlyKey}` }),
    )
    let operations = 0
    for (const ops of Object.values(doc.paths)) operations += Object.keys(ops).length
    expect(operations).toBe(routes().length)
    for (const route of routes()) {
      const path = route.path.replace(/\{(\w+)\+\}/g, '{$1}')
      const op = doc.paths[path]?.[route.method.toLowerCase()]
      expect(op, `${route.method} ${path}`).toBeDefined()
      expect(op?.['x-sluice-role']).toBe(route.spec.role)
      expect(op?.summary).toBe(route.spec.summary)
      const pathParams = (op?.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name)
      expect(pathParams).toEqual([...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]))
      expect(op?.requestBody !== undefined).toBe(route.spec.body !== undefined)
    }
    const create = doc.paths['/api/admin/consumers']?.post?.requestBody as { content: { 'application/json': { schema: { properties: Record<string, unknown>; required: string[] } } } }
    expect(Object.keys(create.content['application/json'].schema.properties).sort()).toEqual(['name', 'overrides', 'tier'])
    expect(create.content['application/json'].schema.required).toEqual(['name'])
    const usage = doc.paths['/api/admin/usage']?.get
    expect(usage?.parameters.filter((p) => p.in === 'query').map((p) => p.name).sort()).toEqual(['consumer', 'from', 'limit', 'model', 'offset', 'to'])
  })

  it('a route without a role cannot be registered (a type error)', () => {
    const router = new Router()
    const handler = (): { status: number; body: null } => ({ status: 200, body: null })
    // @ts-expect-error: RouteSpec.role is required. If this line compiles, tsc fails on the unused directive.
    router.add('GET', '/api/admin/no-role', { summary: 'no role' }, handler)
    // @ts-expect-error: only 'read' and 'admin' exist.
    router.add('GET', '/api/admin/odd-role', { role: 'write', summary: 'odd role' }, handler)
    expect(router.routes).toHaveLength(2)
  })
})
