import { execFileSync } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { send, type Reply } from '../../support/data-plane.js'
import { defaultGatewayConfig, startStack, type Stack } from '../../support/harness.js'

// The dashboard's login and what a session cookie may do on the admin API, without a browser:
// the cookie's attributes, the CSRF token and the Origin check on every change, the admin key's
// id (never its value) in the log, the request log route, and how the page's files are served.

const adminKey = 'adm-session-6a0c2e4f8b1d3579'
const readKey = 'adm-session-read-1f3e5d7c9b0a2468'

describe('dashboard sessions on the admin API', () => {
  let stack: Stack
  const url = () => stack.gw.url
  const login = (key: string, headers: Record<string, string> = {}): Promise<Reply> =>
    send(url(), '/dashboard/session', { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ key }) })
  const cookieOf = (reply: Reply): string => (reply.headers['set-cookie'] ?? '').split(';')[0] as string

  beforeAll(async () => {
    // The page as `npm run build` makes it (the gateway reads the files when it starts).
    execFileSync(process.execPath, ['scripts/build-dashboard.js'], { cwd: new URL('../../../', import.meta.url), stdio: 'pipe' })
    stack = await startStack({ gateway: (simUrl) => ({ ...defaultGatewayConfig(simUrl), admin: { keys: [adminKey], read_only_keys: [readKey], session_ttl: '2h' } }) })
  })
  afterAll(() => stack?.close())

  it('exchanges an admin key for an HttpOnly, SameSite=Strict cookie with an expiry; a wrong key gets none', async () => {
    const wrong = await login('adm-session-wrong-00000000000')
    expect(wrong.status).toBe(403)
    expect(wrong.headers['set-cookie']).toBeUndefined()
    const ok = await login(adminKey)
    expect(ok.status).toBe(200)
    expect(ok.headers['set-cookie']).toMatch(/^sluice_session=[A-Za-z0-9_-]{40,}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=7200$/)
    expect(ok.text).not.toContain(adminKey)
    const body = ok.json<{ role: string; admin_key_id: string; expires_at: string; csrf_token: string }>()
    expect(body.role).toBe('admin')
    expect(body.admin_key_id).toMatch(/^admin-[0-9a-f]{12}$/)
    expect(Date.parse(body.expires_at) - Date.now()).toBeGreaterThan(7_100_000)
  })

  it('refuses a login that is not a same-origin JSON post', async () => {
    expect((await send(url(), '/dashboard/session', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `key=${adminKey}` })).json<{ error: { code: string } }>().error.code).toBe('csrf_check_failed')
    const crossSite = await login(adminKey, { origin: 'http://evil.example' })
    expect(crossSite.status).toBe(403)
    expect(crossSite.headers['set-cookie']).toBeUndefined()
  })

  it('a change through the cookie needs the CSRF token and a same-origin page; the log names the key by id', async () => {
    const reply = await login(adminKey)
    const cookie = cookieOf(reply)
    const { csrf_token: csrf, admin_key_id: keyId } = reply.json<{ csrf_token: string; admin_key_id: string }>()
    const disable = (headers: Record<string, string>) => send(url(), '/api/admin/deployments/sim~k1/disable', { method: 'POST', headers: { cookie, ...headers } })
    const code = (r: Reply) => r.json<{ error?: { code: string } }>().error?.code
    expect(code(await disable({}))).toBe('csrf_check_failed')
    expect(code(await disable({ 'x-csrf-token': `${csrf}x` }))).toBe('csrf_check_failed')
    expect(code(await disable({ 'x-csrf-token': csrf, origin: 'http://127.0.0.1:1' }))).toBe('csrf_check_failed')
    const host = new URL(url()).host
    const done = await disable({ 'x-csrf-token': csrf, origin: `http://${host}` })
    expect(done.status, done.text).toBe(200)
    expect((await send(url(), '/api/admin/deployments/sim~k1/enable', { method: 'POST', headers: { cookie, 'x-csrf-token': csrf } })).status).toBe(200)
    // Reads need no token.
    expect((await send(url(), '/api/admin/deployments', { headers: { cookie } })).status).toBe(200)
    const lines = stack.logs.entries().filter((e) => e.msg === 'admin' && e.path === '/api/admin/deployments/sim~k1/disable')
    expect(lines.map((l) => [l.status, l.adminKey])).toEqual([[403, null], [403, null], [403, null], [200, keyId]])
    expect(stack.logs.lines.some((l) => l.includes(adminKey))).toBe(false)
  })

  it('a read-only session reads but cannot act; a logged-out or unknown cookie is 401', async () => {
    const reply = await login(readKey)
    const cookie = cookieOf(reply)
    const { csrf_token: csrf } = reply.json<{ csrf_token: string }>()
    expect((await send(url(), '/api/admin/session', { headers: { cookie } })).json<{ role: string }>().role).toBe('read')
    const refused = await send(url(), '/api/admin/reload', { method: 'POST', headers: { cookie, 'x-csrf-token': csrf } })
    expect(refused.status).toBe(403)
    expect(refused.json<{ error: { code: string } }>().error.code).toBe('read_only_admin_key')
    const out = await send(url(), '/dashboard/session', { method: 'DELETE', headers: { cookie } })
    expect(out.headers['set-cookie']).toContain('Max-Age=0')
    const after = await send(url(), '/api/admin/session', { headers: { cookie } })
    expect(after.status).toBe(401)
    expect(after.json<{ error: { code: string } }>().error.code).toBe('dashboard_session_expired')
    expect((await send(url(), '/api/admin/session', { headers: { cookie: 'sluice_session=made-up' } })).status).toBe(401)
  })

  it('keeps the last requests in the log route: ids and numbers, filterable, never a key', async () => {
    for (let i = 0; i < 3; i++) await send(url(), '/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'test-model', messages: [{ role: 'user', content: `log ${i}` }] }) })
    await send(url(), '/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'nope', messages: [] }) })
    const auth = { authorization: `Bearer ${adminKey}` }
    const all = (await send(url(), '/api/admin/requests?model=test-model', { headers: auth })).json<{ data: { seq: number; model: string; status: number; key: string }[]; last_seq: number }>()
    expect(all.data.map((e) => [e.model, e.status, e.key])).toEqual([['test-model', 200, 'k1'], ['test-model', 200, 'k1'], ['test-model', 200, 'k1']])
    const last = all.data.at(-1)?.seq as number
    const newer = (await send(url(), `/api/admin/requests?after=${last - 1}`, { headers: auth })).json<{ data: { seq: number; status: number }[] }>()
    expect(newer.data.map((e) => e.status)).toEqual([200, 400])
    const text = (await send(url(), '/api/admin/requests', { headers: auth })).text
    expect(text).not.toContain('sk-sim-test-1')
    expect(text).not.toContain('log 0')
    const bad = await send(url(), '/api/admin/requests?limit=0', { headers: auth })
    expect(bad.status).toBe(400)
    expect((await send(url(), '/api/admin/requests?colour=red', { headers: auth })).status).toBe(400)
  })

  it('serves the page and its files with a strict CSP, gzipped when asked, 304 when unchanged', async () => {
    const page = await send(url(), '/dashboard')
    expect(page.status).toBe(200)
    expect(page.headers['content-security-policy']).toMatch(/default-src 'none'; script-src 'self'/)
    expect(page.headers['x-frame-options']).toBe('DENY')
    expect(page.text).not.toMatch(/<script>|<script [^>]*>[^<]/)
    expect(page.text).not.toMatch(/https?:\/\//)
    const js = await send(url(), '/dashboard/app.js', { headers: { 'accept-encoding': 'gzip' } })
    expect(js.headers['content-encoding']).toBe('gzip')
    expect(js.headers['content-type']).toContain('text/javascript')
    expect((await send(url(), '/dashboard/app.js', { headers: { 'if-none-match': js.headers.etag as string } })).status).toBe(304)
    expect((await send(url(), '/dashboard/nope.js')).status).toBe(404)
    expect((await send(url(), '/dashboard', { method: 'POST' })).status).toBe(405)
  })

  // Last in the file: it leaves 127.0.0.1 unable to log in for a minute.
  it('refuses logins from an address after ten wrong keys, the right key included, with Retry-After', async () => {
    // Earlier tests of this file made one wrong login from this address already.
    let wrong = 1
    while (wrong < 20 && (await login(`adm-session-guess-${String(wrong).padStart(10, '0')}`)).status === 403) wrong++
    expect(wrong).toBe(10)
    const refused = await login(adminKey)
    expect(refused.status).toBe(429)
    expect(refused.json<{ error: { code: string } }>().error.code).toBe('rate_limit_exceeded')
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0)
    expect(refused.headers['set-cookie']).toBeUndefined()
  })
})
