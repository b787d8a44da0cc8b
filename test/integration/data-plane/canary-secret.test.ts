import { createHash } from 'node:crypto'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { send, startWatchedStack, type Reply, type SendOptions, type WatchedStack } from '../../support/data-plane.js'

// A canary upstream key is driven through every kind of answer — success, stream, upstream
// 401/400/429/500 that echo it, timeouts, passthrough — and must never reach a client, a log
// line or the metrics: not whole, not any 8-character window of its secret part, not in base64.

// Fixed, so a run is reproducible; any 32 hex digits would do.
const secretHex = createHash('sha256').update('sluice data-plane canary').digest('hex').slice(0, 32)
const canaryKey = `sk-canary-${secretHex}`
const adminKey = 'admin-key-for-the-canary-test'

/** Every string that would betray the key. */
function needles(): string[] {
  const out = new Set<string>([canaryKey, secretHex])
  for (let i = 0; i + 8 <= secretHex.length; i++) out.add(secretHex.slice(i, i + 8))
  // base64 (and base64url) of the key and of its secret part, at each of the three alignments
  // it could have inside a longer encoded string; the edges that depend on neighbours are cut.
  for (const plain of [canaryKey, secretHex]) {
    for (let pad = 0; pad < 3; pad++) {
      const encoded = Buffer.from('x'.repeat(pad) + plain).toString('base64')
      const stable = encoded.slice(Math.ceil((pad * 4) / 3) + 1, encoded.length - 4)
      out.add(stable)
      out.add(stable.replace(/\+/g, '-').replace(/\//g, '_'))
    }
  }
  return [...out].filter((n) => n.length >= 8)
}

const leakNeedles = needles()

function leaksIn(where: string, text: string): string[] {
  return leakNeedles.filter((n) => text.includes(n)).map((n) => `${where} contains ${JSON.stringify(n)}`)
}

function replyText(r: Reply): string {
  return `${Object.entries(r.headers).map(([k, v]) => `${k}: ${v}`).join('\n')}\n\n${r.text}`
}

describe('data plane: the upstream key never leaks (canary)', () => {
  let stack: WatchedStack
  const replies: { what: string; reply: Reply }[] = []
  let pipelineRequests = 0

  beforeAll(async () => {
    stack = await startWatchedStack({
      gateway: (simUrl) => ({
        providers: {
          canary: {
            type: 'openai',
            base_url: `${simUrl}/v1`,
            keys: [{ id: 'canary-1', key: canaryKey }],
            timeouts: { first_byte: '300ms', idle: '300ms' },
            // One key answers every scripted failure: its breaker must not take it out.
            failover: { failure_threshold: 1000, min_requests: 1000 },
          },
        },
        admin: { keys: [adminKey] },
        models: { 'canary-model': { targets: [{ provider: 'canary', model: 'sim-model' }] } },
        passthrough: { provider: 'canary' },
      }),
    })
  })
  afterAll(() => stack.close())
  // Also drops scripted steps a request did not consume, so each test's script is its own.
  beforeEach(() => stack.sim.reset())

  /** Sends and keeps the reply for the scans. */
  async function drive(what: string, path: string, opts: SendOptions, pipeline = true): Promise<Reply> {
    if (pipeline) pipelineRequests++
    const reply = await send(stack.gw.url, path, opts)
    replies.push({ what, reply })
    // A 401 or 403 takes the only key out at once; the admin API puts it back (and its answer is scanned too).
    if (pipeline) {
      const enabled = await send(stack.gw.url, '/api/admin/deployments/canary~canary-1/enable', { method: 'POST', headers: { authorization: `Bearer ${adminKey}` } })
      expect(enabled.status).toBe(200)
      replies.push({ what: `enable after ${what}`, reply: enabled })
    }
    return reply
  }

  /** Every leak in the replies this test drove. */
  function leaksSince(first: number): string[] {
    return replies.slice(first).flatMap(({ what, reply }) => leaksIn(what, replyText(reply)))
  }

  let firstReply = 0
  beforeEach(() => {
    firstReply = replies.length
  })

  const chat = (extra: Record<string, unknown> = {}) => ({ body: { model: 'canary-model', messages: [{ role: 'user', content: 'hello' }], ...extra } })
  const unmanaged = (extra: Record<string, unknown> = {}) => ({ body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }], ...extra } })

  it('the canary is what the upstream receives (so the scan below means something)', async () => {
    const res = await drive('success', '/v1/chat/completions', chat({ max_tokens: 4 }))
    expect(res.status).toBe(200)
    await stack.sim.waitForRequests(1)
    expect(stack.sim.requests()[0]?.headers.authorization).toBe(`Bearer ${canaryKey}`)
    expect(leaksSince(firstReply)).toEqual([])
  })

  it('a stream', async () => {
    const res = await drive('stream', '/v1/chat/completions', chat({ stream: true, max_tokens: 8, stream_options: { include_usage: true } }))
    expect(res.status).toBe(200)
    expect(res.text).toContain('data: [DONE]')
    expect(leaksSince(firstReply)).toEqual([])
  })

  // Before the tests that script 429s: those teach the key's pacer a lower rate.
  it('timeouts before headers and mid-stream', async () => {
    stack.sim.script([{ kind: 'stall_before_headers', ms: 3000 }])
    expect((await drive('first_byte timeout', '/v1/chat/completions', chat())).status).toBe(504)
    stack.sim.script([{ kind: 'stall_mid_stream', after_chunks: 2, ms: 3000 }])
    const res = await drive('idle timeout', '/v1/chat/completions', chat({ stream: true, max_tokens: 6 }))
    expect(res.text).toContain('upstream_timeout')
    stack.sim.script([{ kind: 'reset_mid_stream', after_chunks: 2 }])
    await drive('reset mid-stream', '/v1/chat/completions', chat({ stream: true, max_tokens: 6 }))
    stack.sim.script([{ kind: 'garbage' }])
    await drive('garbage', '/v1/chat/completions', chat())
    expect(leaksSince(firstReply)).toEqual([])
  })

  it('upstream 401 for a revoked key (the simulator names the key it got)', async () => {
    stack.sim.configure({ keys: { [canaryKey]: { revoked: true } } })
    try {
      const res = await drive('revoked 401', '/v1/chat/completions', chat())
      expect(res.status).toBe(502)
      const passed = await drive('revoked 401, passthrough', '/v1/chat/completions', unmanaged())
      expect(passed.status).toBe(502)
    } finally {
      stack.sim.configure({ keys: { [canaryKey]: null } })
    }
    expect(leaksSince(firstReply)).toEqual([])
  })

  it('upstream errors that echo the key in their body and in a header', async () => {
    for (const status of [400, 401, 403, 404, 422, 429, 500]) {
      stack.sim.script([{ kind: 'echo_key_in_error', status }])
      const res = await drive(`echo_key_in_error ${status}`, '/v1/chat/completions', chat())
      // A managed 429 goes back to the queue and is answered by the retry.
      if (status === 429) expect(res.status).toBe(200)
      else expect(res.status).toBeGreaterThanOrEqual(400)
      stack.sim.script([{ kind: 'echo_key_in_error', status }])
      await drive(`echo_key_in_error ${status}, passthrough`, '/v1/chat/completions', unmanaged())
    }
    // The simulator has no /v1/files (404 before any scripted step): an unknown passthrough path.
    await drive('an unknown passthrough path', '/v1/files', { method: 'GET' })
    expect(leaksSince(firstReply)).toEqual([])
  })

  async function driveErrors(label: string, cases: readonly { status: number; body: unknown }[]): Promise<void> {
    const headers = {
      'x-debug-key': canaryKey,
      'x-debug-auth': `Basic ${Buffer.from(`user:${canaryKey}`).toString('base64')}`,
      'www-authenticate': `Bearer realm="${secretHex}"`,
      'retry-after': '3',
    }
    for (const { status, body } of cases) {
      stack.sim.script([{ kind: 'error', status, body, headers }])
      await drive(`${label} ${status}`, '/v1/chat/completions', chat())
      stack.sim.script([{ kind: 'error', status, body, headers }])
      await drive(`${label} ${status}, passthrough`, '/v1/chat/completions', unmanaged())
    }
  }

  it('upstream errors quoting the whole key in their own bodies and headers', async () => {
    await driveErrors('whole key', [
      { status: 400, body: { error: { message: `bad key ${canaryKey}`, type: 'invalid_request_error', code: 'invalid_api_key', param: `Bearer ${canaryKey}` } } },
      { status: 400, body: { error: { message: `encoded ${Buffer.from(canaryKey).toString('base64')} and bare ${secretHex}`, type: `t-${secretHex}`, code: secretHex, param: null } } },
      { status: 422, body: { error: `api_key=${canaryKey}` } },
      { status: 429, body: { error: { message: `slow down, authorization: Bearer ${canaryKey}`, type: 'requests', code: 'rate_limit_exceeded' } } },
      { status: 500, body: { error: { message: `crash while using ${canaryKey}` } } },
      { status: 503, body: `<html>${canaryKey}</html>` },
    ])
    expect(leaksSince(firstReply)).toEqual([])
  })

  it('metrics, status, model list and passthrough model lookups', async () => {
    await drive('models', '/v1/models', { method: 'GET' }, false)
    await drive('model', '/v1/models/canary-model', { method: 'GET' }, false)
    await drive('passthrough model', '/v1/models/gpt-4o-mini', { method: 'GET' })
    await drive('status', '/status', { method: 'GET' }, false)
    await drive('ready', '/health/ready', { method: 'GET' }, false)
    const metrics = await drive('metrics', '/metrics', { method: 'GET' }, false)
    expect(metrics.text).toContain('sluice_requests_total')
    expect(metrics.text).toContain('key="canary-1"')
    expect(leaksSince(firstReply)).toEqual([])
  })

  it('nothing the clients got, no log line and no metric holds the key', async () => {
    await stack.logs.waitForAccessLog((records) => records.length >= pipelineRequests)
    expect(replies.length).toBeGreaterThan(40)
    const leaks: string[] = []
    for (const { what, reply } of replies) leaks.push(...leaksIn(`reply to ${what}`, replyText(reply)))
    stack.logs.lines.forEach((line, i) => leaks.push(...leaksIn(`log line ${i}`, line)))
    leaks.push(...leaksIn('metrics registry', await stack.gw.metrics.render()))
    expect(leaks).toEqual([])
    // The scan finds what it looks for, in each form.
    for (const planted of [canaryKey, `…${secretHex.slice(11, 19)}…`, `Basic ${Buffer.from(`u:${canaryKey}`).toString('base64')}`, Buffer.from(`ab${secretHex}`).toString('base64url')]) {
      expect(leaksIn('self-test', `{"x":"${planted}"}`)).not.toEqual([])
    }
  })

  // Last, so the scan above covers everything else whatever happens here.
  it('upstream errors quoting a fragment of the key: neither the client nor the log sees it', async () => {
    const firstLine = stack.logs.lines.length
    // e.g. a self-hosted server that truncates the token it echoes, or puts part of it in `code`.
    await driveErrors('fragment', [
      { status: 400, body: { error: { message: 'invalid token', type: 'invalid_request_error', code: secretHex.slice(0, 12), param: null } } },
      { status: 403, body: { error: { message: `token …${secretHex.slice(-16)} is not allowed here`, type: 'permission_error', code: null, param: null } } },
      { status: 404, body: { error: { message: `no such key ${secretHex.slice(4, 24)}`, type: 'invalid_request_error', code: null, param: secretHex.slice(8, 20) } } },
    ])
    await stack.logs.waitForAccessLog((records) => records.length >= pipelineRequests)
    const leaks = leaksSince(firstReply)
    stack.logs.lines.slice(firstLine).forEach((line, i) => leaks.push(...leaksIn(`log line ${firstLine + i}`, line)))
    expect(leaks).toEqual([])
  })
})
