import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SluiceConfigInput } from '../../../src/config/schema.js'
import { startStack, type Stack } from '../../support/harness.js'
import { chat, expectQueued, RequestWatch, scheduleStatus, upstreamHas, type ChatResult } from '../../support/schedule.js'

// One upstream key can serve several models. With `limit_scope: key` (the default) they share
// the key's pacer — each model has its own queue, and the queues take turns at the key; with
// `limit_scope: key-model` each upstream model has a pacer of its own.

const config = (simUrl: string): SluiceConfigInput => ({
  providers: {
    // 120 rpm: 515 ms between requests on the shared pacer.
    shared: { type: 'openai', base_url: `${simUrl}/v1`, keys: [{ id: 'k-shared', key: 'sk-shared-secret', rpm: 120 }] },
    // 2400 rpm, and ~0.33 s of tokens for the gate request (as holdKey does).
    busy: { type: 'openai', base_url: `${simUrl}/v1`, keys: [{ id: 'k-busy', key: 'sk-busy-secret', rpm: 2400, tpm: 100_000 }] },
    scoped: { type: 'openai', base_url: `${simUrl}/v1`, limit_scope: 'key-model', keys: [{ id: 'k-scoped', key: 'sk-scoped-secret', rpm: 6 }] },
  },
  models: {
    'shared-a': { targets: [{ provider: 'shared', model: 'up-shared-a' }] },
    'shared-b': { targets: [{ provider: 'shared', model: 'up-shared-b' }] },
    'busy-a': { targets: [{ provider: 'busy', model: 'up-busy-a' }] },
    'busy-b': { targets: [{ provider: 'busy', model: 'up-busy-b' }] },
    'scoped-a': { targets: [{ provider: 'scoped', model: 'up-scoped-a' }] },
    'scoped-b': { targets: [{ provider: 'scoped', model: 'up-scoped-b' }] },
  },
})

/** x-request-id of the simulator's records for these upstream models, in the order it received them. */
function order(stack: Stack, ...models: string[]): string[] {
  return stack.sim
    .requests()
    .filter((r) => r.model !== null && models.includes(r.model))
    .sort((a, b) => a.id - b.id)
    .map((r) => r.headers['x-request-id'] ?? '')
}

describe('schedule: several models on one key', () => {
  let stack: Stack
  beforeAll(async () => {
    stack = await startStack({ gateway: config })
  })
  afterAll(() => stack.close())

  it('limit_scope key-model: each upstream model has its own pacer, so one model\'s pacing does not hold up another', async () => {
    const [a, b] = await Promise.all([chat(stack.gw.url, { model: 'scoped-a', id: 'scoped-a1' }), chat(stack.gw.url, { model: 'scoped-b', id: 'scoped-b1' })])
    expect([a.status, b.status]).toEqual([200, 200])
    // At 6 rpm, a second request on one pacer would wait 10 s; both went at once.
    expect(Math.max(a.elapsedMs, b.elapsedMs)).toBeLessThan(2000)
    const status = await scheduleStatus(stack.gw.url)
    const ids = status.pacers.filter((p) => p.provider === 'scoped').map((p) => [p.id, p.model])
    expect(ids.sort()).toEqual([['scoped/k-scoped/up-scoped-a', 'up-scoped-a'], ['scoped/k-scoped/up-scoped-b', 'up-scoped-b']])
  })

  it('limit_scope key: two models share the key\'s pacer, so the second model\'s request waits for the next slot', async () => {
    const a = await chat(stack.gw.url, { model: 'shared-a', id: 'shared-a1' })
    const b = await chat(stack.gw.url, { model: 'shared-b', id: 'shared-b1' })
    expect([a.status, b.status]).toEqual([200, 200])
    await upstreamHas(stack, ['shared-a1', 'shared-b1'])
    const records = stack.sim.requests().filter((r) => r.model?.startsWith('up-shared-'))
    const at = (id: string): number => records.find((r) => r.headers['x-request-id'] === id)?.started_at ?? NaN
    expect(at('shared-b1') - at('shared-a1')).toBeGreaterThanOrEqual(450)
    const status = await scheduleStatus(stack.gw.url)
    expect(status.pacers.filter((p) => p.provider === 'shared').map((p) => p.id)).toEqual(['shared/k-shared'])
  })

  it('a backlog on one model does not starve another model on the same key: its urgent request goes within a few dispatches', async () => {
    // Hold the shared key (the gate's ~525 tokens take ~0.33 s of its token pacer), queue a backlog
    // of low requests for model a, then one urgent request for model b.
    stack.sim.script([{ kind: 'stall_before_headers', ms: 450, match: { model: 'up-busy-a' } }])
    const upstream = new RequestWatch(stack.sim.port)
    const gate = chat(stack.gw.url, { model: 'busy-a', id: 'gate-busy', maxTokens: 500, consumer: 'gatekeeper' })
    await upstream.count(1)
    upstream.close()

    const watch = new RequestWatch(stack.gw.port, 'end')
    const backlog: Promise<ChatResult>[] = []
    for (let i = 0; i < 12; i++) backlog.push(chat(stack.gw.url, { model: 'busy-a', id: `busy-a${String(i).padStart(2, '0')}`, priority: 'low' }))
    await expectQueued(stack, watch, 12, 'busy-a', 12)
    const urgent = chat(stack.gw.url, { model: 'busy-b', id: 'busy-b-urgent', priority: 'urgent' })
    await expectQueued(stack, watch, 13, 'busy-b', 1)
    watch.close()

    expect((await urgent).status).toBe(200)
    expect((await Promise.all(backlog)).every((r) => r.status === 200)).toBe(true)
    await gate
    await upstreamHas(stack, ['busy-b-urgent'])
    const sent = order(stack, 'up-busy-a', 'up-busy-b').filter((id) => id !== 'gate-busy')
    expect(sent.indexOf('busy-b-urgent'), `order ${sent.join(' ')}`).toBeLessThanOrEqual(2)
  })
})
