import OpenAI from 'openai'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FakeTime } from '../../support/fake-time.js'
import { startStack, type Stack } from '../../support/harness.js'
import { adminCaller, adminKey, attemptsOf, KeyFaults, provider, secretOf, upstreamSaw, within } from '../../support/failover.js'

// A request whose 429s sent it back to the queue is still the model's to fall back from: when
// every key of its model goes out of service while it waits, the model's fallback serves it
// (it used to get 503 no_capacity, skipping the fallbacks). The gateway's time is a FakeTime:
// the keys' 30 s pauses end when the test says so.

const rateLimited = {
  kind: 'error' as const,
  status: 429,
  headers: { 'retry-after': '30' },
  body: { error: { message: 'Rate limit reached for requests', type: 'requests', code: 'rate_limit_exceeded' } },
}

describe('failover: a requeued request falls back when its keys go out', () => {
  let stack: Stack
  let faults: KeyFaults[] = []
  const time = new FakeTime()
  const admin = adminCaller(() => stack.gw.url)

  beforeAll(async () => {
    stack = await startStack({
      time,
      sim: { keys: Object.fromEntries(['k1', 'k2', 'b1'].map((k) => [secretOf(k), { id: k }])) },
      gateway: (simUrl) => ({
        admin: { keys: [adminKey] },
        providers: {
          main: provider(simUrl, [{ id: 'k1' }, { id: 'k2' }]),
          back: provider(simUrl, [{ id: 'b1' }]),
        },
        models: {
          primary: { targets: [{ provider: 'main', model: 'up-primary' }], fallbacks: ['backup'] },
          backup: { targets: [{ provider: 'back', model: 'up-backup' }] },
        },
      }),
    })
    // The first request on each key of `main` is refused for 30 s; nothing else is.
    faults = ['k1', 'k2'].map((k) => new KeyFaults(stack.sim, secretOf(k), (n) => (n === 0 ? rateLimited : null)))
  })
  afterAll(async () => {
    for (const f of faults) f.close()
    await stack?.close()
  })

  it('two 429s, then both keys disabled while it waits: the fallback answers', async () => {
    const client = new OpenAI({ baseURL: stack.baseURL, apiKey: 'client-key', maxRetries: 0 })
    const id = 'requeue-fallback-1'
    const pending = client.chat.completions
      .create({ model: 'primary', messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 }, { headers: { 'x-request-id': id } })
      .withResponse()
    // Both keys refused it once; it waits in the queue for their 30 s pauses.
    await upstreamSaw(stack.sim, [id])
    await within(waitForAttempts(stack, id, 2), 5_000, 'both keys to refuse the request')
    for (const key of ['main~k1', 'main~k2']) expect((await admin(`/api/admin/deployments/${key}/disable`, 'POST')).status).toBe(200)
    // The pauses end: the request looks at its keys again and finds them all out.
    time.advance(30_000)

    const { data, response } = await within(pending, 5_000, 'the fallback to answer')
    expect(data.object).toBe('chat.completion')
    expect(response.headers.get('x-sluice-fallback')).toBe('backup')
    expect(response.headers.get('x-sluice-deployment')).toBe('back/b1/up-backup')
    expect(response.headers.get('x-sluice-attempts')).toBe('3')
    const tries = attemptsOf(stack.sim, id).map((r) => `${String(r.key_id)} ${r.status}`)
    expect(tries.slice(0, 2).sort()).toEqual(['k1 429', 'k2 429'])
    expect(tries[2]).toBe('b1 200')
  })
})

async function waitForAttempts(stack: Stack, id: string, n: number): Promise<void> {
  while (attemptsOf(stack.sim, id).length < n) await stack.sim.waitForRequests(stack.sim.requests().length + 1)
}
