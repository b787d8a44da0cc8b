import { createHash } from 'node:crypto'
import Database from 'better-sqlite3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { virtualKeyPrefixLength } from '../../../src/core/virtual-keys/index.js'
import { chatBody, LeakScan, leakNeedles, makeCaller, sqliteDatabase, waitForLedger, type Caller, type TestDatabase } from '../../support/consumers.js'
import { send, type Reply, type SendOptions } from '../../support/data-plane.js'
import { startStack, type Stack } from '../../support/harness.js'

// With consumers in play, a canary upstream key must still reach nothing but the upstream: not
// a log line, not a column of any row in the database (usage ledger included), not an admin
// reply, not a metric, not an error a client gets. And a caller's virtual key never reaches
// the logs, the database or the metrics either: only its short prefix does.

// Fixed, so a run is reproducible.
const secretHex = createHash('sha256').update('sluice consumers canary').digest('hex').slice(0, 32)
const canaryKey = `sk-canary-${secretHex}`
const adminKey = 'adm-consumers-canary-3e8f1a0c57'
const keyId = 'canary~canary-1'

describe('consumers: the canary provider key and the virtual key never leak', () => {
  let db: TestDatabase
  let stack: Stack
  let caller: Caller
  const replies: { what: string; reply: Reply }[] = []
  let scan: LeakScan

  beforeAll(async () => {
    db = sqliteDatabase('canary')
    stack = await startStack({
      gateway: (simUrl) => ({
        providers: {
          canary: {
            type: 'openai',
            base_url: `${simUrl}/v1`,
            keys: [{ id: 'canary-1', key: canaryKey }],
            failover: { failure_threshold: 1000, min_requests: 1000 },
          },
        },
        models: { 'canary-model': { targets: [{ provider: 'canary', model: 'sim-model' }] } },
        pricing: { 'sim-model': { input: 1, output: 2 } },
        tiers: { small: { rpm: 1000 } },
        admin: { keys: [adminKey] },
        database: db.url,
      }),
    })
    caller = await makeCaller(stack.gw, 'canary-caller', 'small')
    scan = new LeakScan({
      'the canary provider key': leakNeedles(canaryKey, 'sk-canary-'),
      // The prefix (`sk-sluice-AbCd`) may be shown; nothing after it.
      'the virtual key': leakNeedles(caller.secret, caller.secret.slice(0, virtualKeyPrefixLength)),
    })
  })
  afterAll(async () => {
    await stack?.close()
    await db?.drop()
  })

  /** The dashboard's event stream never ends by itself: its first two ticks are read, kept for the scan, and the stream left. */
  async function firstTicks(path: string): Promise<Reply> {
    const abort = new AbortController()
    const res = await fetch(stack.gw.url + path, { headers: { authorization: `Bearer ${adminKey}` }, signal: abort.signal })
    const reader = (res.body as ReadableStream<Uint8Array>).getReader()
    let text = ''
    while ((text.match(/^event: tick$/gm) ?? []).length < 2) text += new TextDecoder().decode((await reader.read()).value)
    abort.abort()
    const reply: Reply = { status: res.status, headers: Object.fromEntries(res.headers), bytes: Buffer.from(text), text, json: <T>() => JSON.parse(text) as T }
    replies.push({ what: `admin GET ${path} (two ticks)`, reply })
    return reply
  }

  async function drive(what: string, path: string, opts: SendOptions): Promise<Reply> {
    const reply = await send(stack.gw.url, path, opts)
    replies.push({ what, reply })
    return reply
  }
  const admin = (what: string, path: string, method: 'GET' | 'POST' = 'GET') => drive(what, path, { method, headers: { authorization: `Bearer ${adminKey}` } })
  const chat = (id: string, extra: Record<string, unknown> = {}) => ({ body: chatBody('canary-model', 'hello', { max_tokens: 4, ...extra }), headers: { ...caller.headers, 'x-request-id': id } })
  const replyText = (r: Reply): string => `${Object.entries(r.headers).map(([k, v]) => `${k}: ${v}`).join('\n')}\n\n${r.text}`

  const dataPlaneIds: string[] = []
  async function drivePipeline(what: string, id: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}): Promise<Reply> {
    dataPlaneIds.push(id)
    const opts = chat(id, extra)
    return drive(what, '/v1/chat/completions', { ...opts, headers: { ...opts.headers, ...headers } })
  }

  it('the canary is what the upstream receives (so the scans mean something)', async () => {
    stack.sim.reset()
    const res = await drivePipeline('success', 'can-ok')
    expect(res.status, res.text).toBe(200)
    await stack.sim.waitForRequests(1)
    expect(stack.sim.requests()[0]?.headers.authorization).toBe(`Bearer ${canaryKey}`)
  })

  it('traffic of every kind: streams, upstream errors that echo the key, a revoked upstream key, refused callers', async () => {
    expect((await drivePipeline('stream', 'can-stream', { stream: true })).status).toBe(200)
    expect((await drivePipeline('stream with usage', 'can-stream-usage', { stream: true, stream_options: { include_usage: true } })).status).toBe(200)
    for (const status of [400, 404, 422, 500]) {
      stack.sim.script([{ kind: 'echo_key_in_error', status }])
      expect((await drivePipeline(`echo_key_in_error ${status}`, `can-echo-${status}`)).status).toBeGreaterThanOrEqual(400)
    }
    stack.sim.script([
      {
        kind: 'error',
        status: 400,
        body: { error: { message: `bad key ${canaryKey}`, type: 'invalid_request_error', code: secretHex, param: `Bearer ${canaryKey}` } },
        headers: { 'x-debug-key': canaryKey, 'www-authenticate': `Bearer realm="${secretHex}"` },
      },
    ])
    expect((await drivePipeline('an error quoting the key', 'can-quote')).status).toBe(400)

    // The upstream says the key is revoked (and names it): 502 for the client, the key taken out;
    // the admin API puts it back (its answers are scanned too).
    stack.sim.configure({ keys: { [canaryKey]: { revoked: true } } })
    try {
      expect((await drivePipeline('upstream revoked 401', 'can-revoked')).status).toBe(502)
    } finally {
      stack.sim.configure({ keys: { [canaryKey]: null } })
    }
    expect((await admin('enable', `/api/admin/deployments/${keyId}/enable`, 'POST')).status).toBe(200)
    expect((await drivePipeline('after enable', 'can-after')).status).toBe(200)

    // Callers auth refuses, some holding near misses of the virtual key: nothing of it is logged.
    for (const [i, authorization] of [`Bearer ${caller.secret}x`, `Bearer ${caller.secret.slice(0, -1)}`, caller.secret, `Bearer ${caller.secret.slice(0, -1)}!`].entries()) {
      expect((await drivePipeline(`near miss ${i}`, `can-near-${i}`, {}, { authorization })).status).toBe(401)
    }
    expect((await drivePipeline('virtual key in x-api-key on chat', 'can-xapi', {}, { authorization: '', 'x-api-key': caller.secret })).status).toBe(401)
  })

  it('admin replies: every parameterless GET of the OpenAPI document, the key\'s stats, and the usage and keys routes if present', async () => {
    const doc = await admin('openapi', '/api/admin/openapi.json')
    expect(doc.status).toBe(200)
    const paths = Object.entries(doc.json<{ paths: Record<string, Record<string, unknown>> }>().paths)
      .filter(([, ops]) => 'get' in ops)
      .map(([path]) => path.replace('{key_id}', encodeURIComponent(keyId)))
      .filter((path) => !path.includes('{'))
    expect(paths).toContain(`/api/admin/adaptive/keys/${encodeURIComponent(keyId)}/stats`)
    const wanted = new Set([...paths, '/api/admin/usage', '/api/admin/usage/sessions', '/api/admin/keys', '/api/admin/consumers', '/api/admin/deployments'])
    const served: string[] = []
    for (const path of wanted) {
      const reply = path === '/api/admin/events' ? await firstTicks(path) : await admin(`admin GET ${path}`, path)
      // Routes not built yet answer 404 (scanned anyway); every other answer is a 200.
      if (reply.status !== 404) {
        expect(reply.status, `${path}: ${reply.text}`).toBe(200)
        served.push(path)
      }
    }
    expect(served.length).toBeGreaterThanOrEqual(4)
  })

  it('nothing a client or admin got, no log line, no metric and no database row holds either secret', async () => {
    await stack.logs.waitForAccessLog((r) => dataPlaneIds.every((id) => r.some((l) => l.requestId === id)))
    // Every request had a caller except the refused ones; wait until the ledger has the rest.
    const served = dataPlaneIds.filter((id) => !id.startsWith('can-near-') && id !== 'can-xapi')
    const ledger = await waitForLedger(stack.gw.store, (r) => served.every((id) => r.some((x) => x.requestId === id)))
    expect(ledger.map((r) => r.requestId).sort()).toEqual([...served].sort())
    // Only the prefix of the virtual key is recorded.
    for (const r of ledger) expect(r.keyPrefix).toBe(caller.key.prefix)
    expect(caller.secret.startsWith(caller.key.prefix)).toBe(true)

    for (const { what, reply } of replies) scan.scan(`reply to ${what}`, replyText(reply))
    scan.scan('metrics', await stack.gw.metrics.render())
    const metricsReply = await send(stack.gw.url, '/metrics')
    scan.scan('GET /metrics', metricsReply.text)

    // Shut down (everything flushed), then read every column of every row of every table.
    expect(await stack.gw.shutdown()).toBe(true)
    const file = db.url.slice('sqlite:'.length)
    const sqlite = new Database(file, { readonly: true })
    let rows = 0
    try {
      const tables = sqlite.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]
      expect(tables.map((t) => t.name)).toEqual(expect.arrayContaining(['usage_records', 'virtual_keys', 'consumers', 'upstream_keys']))
      for (const { name } of tables) {
        for (const row of sqlite.prepare(`SELECT * FROM "${name.replace(/"/g, '""')}"`).all() as Record<string, unknown>[]) {
          rows++
          for (const [column, value] of Object.entries(row)) scan.scan(`${name}.${column}`, String(value))
        }
      }
    } finally {
      sqlite.close()
    }
    expect(rows).toBeGreaterThan(served.length)
    stack.logs.lines.forEach((line, i) => scan.scan(`log line ${i}`, line))
    expect(scan.found).toEqual([])

    // The scan finds what it looks for.
    for (const planted of [`{"x":"…${secretHex.slice(7, 15)}…"}`, `{"x":"${caller.secret.slice(20, 28)}"}`, Buffer.from(`u:${caller.secret}`).toString('base64'), Buffer.from(`ab${canaryKey}`).toString('base64url')]) {
      const selfTest = new LeakScan(scan.needles)
      selfTest.scan('self-test', planted)
      expect(selfTest.found, planted).not.toEqual([])
    }
    // And it does not cry wolf at what may be shown.
    const shown = new LeakScan(scan.needles)
    shown.scan('prefix', `{"keyPrefix":"${caller.key.prefix}","key":"canary-1"}`)
    expect(shown.found).toEqual([])
  })
})
