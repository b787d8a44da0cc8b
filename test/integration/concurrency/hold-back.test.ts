import OpenAI from 'openai'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startStack, type Stack } from '../../support/harness.js'

// After a concurrency 429 the upstream has no free slot, so sending again at once only earns
// another 429. The refused request waits until one of ours on the key ends — or, with none of
// ours in flight, for the 429's Retry-After — instead of retrying in a tight loop.

const secrets = { adaptive: 'sk-hold-adaptive-secret', fixed: 'sk-hold-fixed-secret' }
const messages = [{ role: 'user' as const, content: 'one at a time' }]

describe('concurrency: a concurrency 429 holds the key back instead of retrying at once', () => {
  let stack: Stack
  let client: OpenAI

  beforeAll(async () => {
    stack = await startStack({
      sim: {
        latency: { ttft_ms: 150 },
        keys: { [secrets.adaptive]: { id: 'adaptive', max_concurrent: 1 }, [secrets.fixed]: { id: 'fixed', max_concurrent: 1 } },
      },
      gateway: (simUrl) => ({
        providers: {
          a: { type: 'openai', base_url: `${simUrl}/v1`, keys: [{ id: 'k', key: secrets.adaptive }] },
          // The config promises 2 at once; the upstream really takes 1.
          f: { type: 'openai', base_url: `${simUrl}/v1`, keys: [{ id: 'k', key: secrets.fixed, max_concurrent: 2 }] },
        },
        models: {
          adaptive: { targets: [{ provider: 'a', model: 'up-a' }] },
          fixed: { targets: [{ provider: 'f', model: 'up-f' }] },
        },
      }),
    })
    client = new OpenAI({ baseURL: stack.baseURL, apiKey: 'client-key', maxRetries: 0 })
  })
  afterAll(() => stack?.close())

  const ask = (model: string) => client.chat.completions.create({ model, messages, max_tokens: 4 })

  it('adaptive key, upstream cap 1: two at once cost one 429, not one per event-loop turn', async () => {
    const answers = await Promise.all([ask('adaptive'), ask('adaptive')])
    expect(answers.map((a) => a.object)).toEqual(['chat.completion', 'chat.completion'])
    const upstream = stack.sim.stats().keys.adaptive
    expect(upstream?.ok).toBe(2)
    expect(upstream?.rate_limited.concurrent).toBe(1)
  })

  it('a short max wait is no reason for a 429 when one of ours will free the slot', async () => {
    const before = stack.sim.stats().keys.fixed?.ok ?? 0
    const short = { headers: { 'x-sluice-max-wait': '1' } }
    const answers = await Promise.all([ask('fixed'), client.chat.completions.create({ model: 'fixed', messages, max_tokens: 4 }, short)])
    expect(answers.map((a) => a.object)).toEqual(['chat.completion', 'chat.completion'])
    expect(stack.sim.stats().keys.fixed?.ok).toBe(before + 2)
  })

  it('fixed key promised 2 with an upstream that takes 1: about one 429 per request, every client served', async () => {
    const n = 6
    const before = stack.sim.stats().keys.fixed
    const answers = await Promise.all(Array.from({ length: n }, () => ask('fixed')))
    expect(answers).toHaveLength(n)
    const after = stack.sim.stats().keys.fixed
    expect((after?.ok ?? 0) - (before?.ok ?? 0)).toBe(n)
    // Each time a request ends, two go (the fixed limit) and one of them is refused.
    expect((after?.rate_limited.concurrent ?? 0) - (before?.rate_limited.concurrent ?? 0)).toBeLessThanOrEqual(n)
    expect(after?.max_concurrency_seen).toBe(1)
  })
})
