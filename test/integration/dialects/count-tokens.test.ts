import Anthropic from '@anthropic-ai/sdk'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startStack, type Stack } from '../../support/harness.js'

// POST /v1/messages/count_tokens: sent to an anthropic provider's own count_tokens (model name
// swapped), answered from sluice's estimate for a model only OpenAI-dialect providers serve.
// Either way a count is not usage.

describe('count_tokens', () => {
  let stack: Stack
  let client: Anthropic

  beforeAll(async () => {
    stack = await startStack({
      sim: { keys: { 'sk-ant-count-1': { id: 'ant' }, 'sk-oa-count-1': { id: 'oa' } } },
      gateway: (simUrl) => ({
        providers: {
          ant: { type: 'anthropic', base_url: `${simUrl}/v1`, keys: [{ id: 'k1', key: 'sk-ant-count-1' }] },
          oa: { type: 'openai', base_url: `${simUrl}/v1`, keys: [{ id: 'k2', key: 'sk-oa-count-1' }] },
        },
        models: { claude: { targets: [{ provider: 'ant', model: 'claude-up' }] }, gpt: { targets: [{ provider: 'oa', model: 'gpt-up' }] } },
      }),
    })
    client = new Anthropic({ baseURL: stack.gw.url, apiKey: 'c', maxRetries: 0 })
  })
  afterAll(() => stack?.close())

  it('on an anthropic provider: the upstream counts, with its model name; no usage is recorded', async () => {
    const res = await client.messages.countTokens({ model: 'claude', system: 'Be brief.', messages: [{ role: 'user', content: 'Hello there' }] }, { headers: { 'x-request-id': 'count-ant' } })
    expect(res.input_tokens).toBe(6) // the simulator's count of "Be brief.Hello there\n"
    const upstream = stack.sim.requests().find((r) => r.headers['x-request-id'] === 'count-ant')
    expect(upstream?.path).toBe('/v1/messages/count_tokens')
    expect((upstream?.body_json as { model: string }).model).toBe('claude-up')
    const log = await stack.logs.waitForAccessLog((all) => all.some((r) => r.requestId === 'count-ant'))
    expect(log.find((r) => r.requestId === 'count-ant')).toMatchObject({ status: 200, promptTokens: null, completionTokens: null })
  })

  it('on an openai provider: sluice answers with its own estimate, and nothing goes upstream', async () => {
    const before = stack.sim.requests().length
    const body = { model: 'gpt', messages: [{ role: 'user' as const, content: 'Hello there, how are you today?' }] }
    const res = await client.messages.countTokens(body)
    expect(res.input_tokens).toBe(Math.ceil(Buffer.byteLength(JSON.stringify(body)) / 4))
    expect(stack.sim.requests().length).toBe(before)
  })

  it('an unknown model: 404 in Anthropic\'s shape', async () => {
    await expect(client.messages.countTokens({ model: 'nope', messages: [{ role: 'user', content: 'x' }] })).rejects.toBeInstanceOf(Anthropic.NotFoundError)
  })
})
