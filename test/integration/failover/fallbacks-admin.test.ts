import OpenAI from 'openai'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectErrorBody, type Reply } from '../../support/data-plane.js'
import { startStack, type Stack } from '../../support/harness.js'
import {
  adminCaller, adminKey, attemptsOf, deploymentOf, deployments, isProbe, metricsText, metricValue, provider, recordsOf, secretOf, upstreamSaw, waitForProbes, withProbes,
} from '../../support/failover.js'

// When every key of a model failed or is out, its fallbacks serve, in order, and the answer says
// so. An admin can take a key out and put it back, and traffic follows at once. The deployments
// API shows ids, never a key's value; a probe asked of a key without a health check is a 409.

const keys = ['a-only', 'b-one', 'c1', 'c2', 'h1']
const messages = [{ role: 'user' as const, content: 'who answers?' }]

describe('failover: fallbacks and the deployments admin API', () => {
  let stack: Stack
  let client: OpenAI
  const replies: Reply[] = []
  const admin = adminCaller(() => stack.gw.url, replies)
  let seq = 0

  beforeAll(async () => {
    stack = await startStack({
      sim: { keys: Object.fromEntries(keys.map((k) => [secretOf(k), { id: k, revoked: k === 'a-only' }])) },
      gateway: (simUrl) => ({
        admin: { keys: [adminKey] },
        providers: {
          'p-a': provider(simUrl, [{ id: 'a-only' }]),
          'p-b': provider(simUrl, [{ id: 'b-one' }]),
          'p-c': provider(simUrl, [{ id: 'c1' }, { id: 'c2' }]),
          'p-h': provider(simUrl, [{ id: 'h1' }], withProbes('10s')),
        },
        models: {
          primary: { targets: [{ provider: 'p-a', model: 'up-primary' }], fallbacks: ['backup'] },
          backup: { targets: [{ provider: 'p-b', model: 'up-backup' }] },
          switch: { targets: [{ provider: 'p-c', model: 'up-switch' }], strategy: 'round-robin' },
          checked: { targets: [{ provider: 'p-h', model: 'up-checked' }] },
        },
      }),
    })
    client = new OpenAI({ baseURL: stack.baseURL, apiKey: 'client-key', maxRetries: 0 })
  })
  afterAll(() => stack?.close())

  async function ask(model: string): Promise<{ id: string; headers: Headers }> {
    const id = `fa-${String(seq++).padStart(3, '0')}`
    const { data, response } = await client.chat.completions.create({ model, messages, max_tokens: 4 }, { headers: { 'x-request-id': id } }).withResponse()
    expect(data.object).toBe('chat.completion')
    return { id, headers: response.headers }
  }

  /** The keys (by simulator id) that served these requests, per the x-sluice-deployment header. */
  const keysOf = (answers: { headers: Headers }[]): string[] => answers.map((a) => (a.headers.get('x-sluice-deployment') ?? '').split('/')[1] ?? '')

  it('a model whose only key is revoked falls back to its fallback: x-sluice-fallback names it', async () => {
    const first = await ask('primary')
    expect(first.headers.get('x-sluice-fallback')).toBe('backup')
    expect(first.headers.get('x-sluice-deployment')).toBe('p-b/b-one/up-backup')
    expect(first.headers.get('x-sluice-attempts')).toBe('2')
    await upstreamSaw(stack.sim, [first.id])
    expect(attemptsOf(stack.sim, first.id).map((r) => [r.key_id, r.status])).toEqual([['a-only', 401], ['b-one', 200]])

    // The key is out now: the next request goes straight to the fallback.
    const second = await ask('primary')
    expect(second.headers.get('x-sluice-fallback')).toBe('backup')
    expect(second.headers.get('x-sluice-deployment')).toBe('p-b/b-one/up-backup')
    expect(second.headers.get('x-sluice-attempts')).toBe('1')
    await upstreamSaw(stack.sim, [second.id])
    expect(attemptsOf(stack.sim, second.id).map((r) => [r.key_id, r.status])).toEqual([['b-one', 200]])

    // The fallback's own clients see no such header.
    expect((await ask('backup')).headers.get('x-sluice-fallback')).toBeNull()
    expect(metricValue(await metricsText(stack.gw.url), 'sluice_retries_total', { reason: 'fallback' })).toBe(2)
    expect((await deploymentOf(admin, 'p-a~a-only')).health).toMatchObject({ state: 'disabled', disabled_reason: 'auth' })
  })

  it('admin disable and enable by key id move the traffic at once', async () => {
    const baseline = await Promise.all([ask('switch'), ask('switch'), ask('switch'), ask('switch')])
    expect(new Set(keysOf(baseline))).toEqual(new Set(['c1', 'c2']))
    await upstreamSaw(stack.sim, baseline.map((a) => a.id))

    let reply = await admin('/api/admin/deployments/p-c~c1/disable', 'POST')
    expect(reply.status, reply.text).toBe(200)
    expect(reply.json()).toMatchObject({ key_id: 'p-c~c1', state: 'disabled' })
    const c1Before = recordsOf(stack.sim, 'c1').length
    const whileOut = []
    for (let i = 0; i < 6; i++) whileOut.push(await ask('switch'))
    expect(keysOf(whileOut)).toEqual(['c2', 'c2', 'c2', 'c2', 'c2', 'c2'])
    await upstreamSaw(stack.sim, whileOut.map((a) => a.id))
    expect(recordsOf(stack.sim, 'c1')).toHaveLength(c1Before)
    expect((await deploymentOf(admin, 'p-c~c1')).health).toMatchObject({ state: 'disabled', disabled_reason: 'admin' })

    // Both out, no fallback: 503 no_capacity at once, nothing sent.
    reply = await admin('/api/admin/deployments/p-c~c2/disable', 'POST')
    expect(reply.status, reply.text).toBe(200)
    const sentBefore = stack.sim.requests().length
    const refused: unknown = await client.chat.completions.create({ model: 'switch', messages }).catch((e: unknown) => e)
    expect(refused).toBeInstanceOf(OpenAI.APIError)
    const e = refused as InstanceType<typeof OpenAI.APIError>
    expect(e.status).toBe(503)
    expect(e.code).toBe('no_capacity')
    expect(Number(e.headers?.get('retry-after'))).toBeGreaterThanOrEqual(1)
    expect(stack.sim.requests()).toHaveLength(sentBefore)

    reply = await admin('/api/admin/deployments/p-c~c1/enable', 'POST')
    expect(reply.status, reply.text).toBe(200)
    expect(reply.json()).toMatchObject({ key_id: 'p-c~c1', state: 'closed' })
    const back = []
    for (let i = 0; i < 4; i++) back.push(await ask('switch'))
    expect(keysOf(back)).toEqual(['c1', 'c1', 'c1', 'c1'])

    reply = await admin('/api/admin/deployments/p-c~c2/enable', 'POST')
    expect(reply.status, reply.text).toBe(200)
    expect(new Set(keysOf(await Promise.all([ask('switch'), ask('switch'), ask('switch'), ask('switch')])))).toEqual(new Set(['c1', 'c2']))
    for (const k of ['c1', 'c2']) expect((await deploymentOf(admin, `p-c~${k}`)).health).toMatchObject({ state: 'closed', disabled_reason: null })
  })

  it('admin disable and enable by deployment id (provider/key/model, slashes and all), as the API documents', async () => {
    const deploymentPath = '/api/admin/deployments/p-c/c2/up-switch'
    try {
      let reply = await admin(`${deploymentPath}/disable`, 'POST')
      expect(reply.status, reply.text).toBe(200)
      expect(reply.json()).toMatchObject({ key_id: 'p-c~c2', state: 'disabled' })
      const whileOut = []
      for (let i = 0; i < 4; i++) whileOut.push(await ask('switch'))
      expect(keysOf(whileOut)).toEqual(['c1', 'c1', 'c1', 'c1'])

      reply = await admin(`${deploymentPath}/enable`, 'POST')
      expect(reply.status, reply.text).toBe(200)
      expect(reply.json()).toMatchObject({ key_id: 'p-c~c2', state: 'closed' })
      expect(new Set(keysOf(await Promise.all([ask('switch'), ask('switch'), ask('switch'), ask('switch')])))).toEqual(new Set(['c1', 'c2']))
    } finally {
      // Whatever happened, the key is back for the tests after this one.
      await admin('/api/admin/deployments/p-c~c2/enable', 'POST')
    }
  })

  it('probe: 409 probe_not_configured for a key without a health check; a key with one is probed on demand', async () => {
    let reply = await admin('/api/admin/deployments/p-c~c1/probe', 'POST')
    expect(reply.status, reply.text).toBe(409)
    expectErrorBody(reply.json(), 'probe_not_configured')

    const before = recordsOf(stack.sim, 'h1').filter(isProbe).length
    reply = await admin('/api/admin/deployments/p-h~h1/probe', 'POST')
    expect(reply.status, reply.text).toBe(200)
    expect(reply.json()).toMatchObject({ key_id: 'p-h~h1', ok: true, status: 200, failure: null, state: 'closed' })
    const probes = await waitForProbes(stack.sim, 'h1', before + 1)
    expect(probes.length).toBe(before + 1)
    expect(probes.at(-1)?.status).toBe(200)

    reply = await admin('/api/admin/deployments/p-z~nobody/probe', 'POST')
    expect(reply.status).toBe(404)
    expectErrorBody(reply.json(), 'deployment_not_found')
  })

  it('no admin reply and no log line holds a key\'s value', async () => {
    const rows = await deployments(admin)
    expect(rows.map((r) => r.id).sort()).toEqual(['p-a/a-only/up-primary', 'p-b/b-one/up-backup', 'p-c/c1/up-switch', 'p-c/c2/up-switch', 'p-h/h1/up-checked'])
    expect(rows.find((r) => r.id === 'p-b/b-one/up-backup')?.routes).toEqual(['backup'])
    // Probe counters only where a health check is configured.
    expect(rows.filter((r) => r.probes !== null).map((r) => r.key_id)).toEqual(['p-h~h1'])
    const secrets = [...keys.map(secretOf), adminKey]
    expect(replies.length).toBeGreaterThanOrEqual(8)
    const leaks: string[] = []
    for (const r of replies) {
      const text = `${JSON.stringify(r.headers)}\n${r.text}`
      for (const s of secrets) if (text.includes(s)) leaks.push(`an admin reply (${r.status}) holds ${s}`)
    }
    for (const line of stack.logs.lines) for (const s of secrets) if (line.includes(s)) leaks.push(`a log line holds ${s}: ${line}`)
    expect(leaks).toEqual([])
  })
})
