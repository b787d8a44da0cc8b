import Anthropic from '@anthropic-ai/sdk'
import OpenAI from 'openai'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startStack, type Stack } from '../../support/harness.js'

// A model may fall back from a provider of one dialect to one of the other; both kinds of
// client are served either way, each attempt translated for the provider it goes to.

describe('a route that mixes dialects', () => {
  let stack: Stack

  beforeAll(async () => {
    stack = await startStack({
      sim: { keys: { 'sk-ant-mixed-1': { id: 'ant' }, 'sk-oa-mixed-1': { id: 'oa' } }, completion_tokens: 3 },
      gateway: (simUrl) => ({
        providers: {
          ant: { type: 'anthropic', base_url: `${simUrl}/v1`, keys: [{ id: 'k1', key: 'sk-ant-mixed-1' }] },
          oa: { type: 'openai', base_url: `${simUrl}/v1`, keys: [{ id: 'k2', key: 'sk-oa-mixed-1' }] },
        },
        models: {
          claude: { targets: [{ provider: 'ant', model: 'claude-up' }], fallbacks: ['gpt'] },
          gpt: { targets: [{ provider: 'oa', model: 'gpt-up' }] },
        },
      }),
    })
  })
  afterAll(() => stack?.close())

  it('the anthropic key fails; both clients are answered by the openai fallback', async () => {
    const openai = new OpenAI({ baseURL: stack.baseURL, apiKey: 'c', maxRetries: 0 })
    const anthropic = new Anthropic({ baseURL: stack.gw.url, apiKey: 'c', maxRetries: 0 })
    stack.sim.script([{ kind: 'error', status: 500, match: { model: 'claude-up' } }, { kind: 'error', status: 500, match: { model: 'claude-up' } }])
    const chat = await openai.chat.completions.create({ model: 'claude', messages: [{ role: 'user', content: 'x' }], max_tokens: 3 }, { headers: { 'x-request-id': 'mixed-oa' } }).withResponse()
    expect(chat.data.choices[0]?.message.content?.length).toBeGreaterThan(0)
    expect(chat.response.headers.get('x-sluice-deployment')).toBe('oa/k2/gpt-up')
    const msg = await anthropic.messages.create({ model: 'claude', max_tokens: 3, messages: [{ role: 'user', content: 'x' }] }, { headers: { 'x-request-id': 'mixed-ant' } }).withResponse()
    expect(msg.data.type).toBe('message')
    expect(msg.data.content[0]?.type).toBe('text')
    expect(msg.response.headers.get('x-sluice-deployment')).toBe('oa/k2/gpt-up')
    const paths = (id: string) => stack.sim.requests().filter((r) => r.headers['x-request-id'] === id).map((r) => `${r.path} ${r.status}`)
    expect(paths('mixed-oa')).toEqual(['/v1/messages 500', '/v1/chat/completions 200'])
    expect(paths('mixed-ant')).toEqual(['/v1/messages 500', '/v1/chat/completions 200'])
  })
})
