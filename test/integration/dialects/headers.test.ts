import Anthropic from '@anthropic-ai/sdk'
import OpenAI from 'openai'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startStack, type Stack } from '../../support/harness.js'

// The official clients' own headers reach the upstream they are meant for: OpenAI-Organization,
// OpenAI-Project and OpenAI-Beta to an openai provider; anthropic-beta and the client's
// anthropic-version (instead of the configured one) to an anthropic provider; a provider's
// forward_headers add more.

const oaSecret = 'sk-oa-headers-1c2d3e'
const antSecret = 'sk-ant-headers-4f5a6b'

describe('forwarded client headers', () => {
  let stack: Stack

  beforeAll(async () => {
    stack = await startStack({
      sim: { keys: { [oaSecret]: { id: 'oa' }, [antSecret]: { id: 'ant' } } },
      gateway: (simUrl) => ({
        providers: {
          oa: { type: 'openai', base_url: `${simUrl}/v1`, keys: [{ id: 'k1', key: oaSecret }], forward_headers: ['X-Team'] },
          ant: { type: 'anthropic', base_url: `${simUrl}/v1`, anthropic_version: '2023-06-01', keys: [{ id: 'k2', key: antSecret }] },
        },
        models: { gpt: { targets: [{ provider: 'oa', model: 'gpt-up' }] }, claude: { targets: [{ provider: 'ant', model: 'claude-up' }] } },
      }),
    })
  })
  afterAll(() => stack?.close())

  const seen = (requestId: string): Record<string, string> => {
    const r = stack.sim.requests().find((x) => x.headers['x-request-id'] === requestId)
    expect(r, requestId).toBeDefined()
    return r!.headers
  }

  it('the openai client\'s organization and project, a beta header and a forward_headers entry reach an openai provider', async () => {
    const client = new OpenAI({ baseURL: stack.baseURL, apiKey: 'c', organization: 'org-abc', project: 'proj-xyz', maxRetries: 0 })
    await client.chat.completions.create({ model: 'gpt', messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 }, { headers: { 'OpenAI-Beta': 'assistants=v2', 'X-Team': 'blue', 'X-Secret-Thing': 'no', 'x-request-id': 'h-oa' } })
    const h = seen('h-oa')
    expect(h).toMatchObject({ 'openai-organization': 'org-abc', 'openai-project': 'proj-xyz', 'openai-beta': 'assistants=v2', 'x-team': 'blue' })
    expect(h['x-secret-thing']).toBeUndefined()
    expect(h.authorization).toBe(`Bearer ${oaSecret}`)
  })

  it('the Anthropic client\'s anthropic-version replaces the configured one; anthropic-beta goes through', async () => {
    const client = new Anthropic({ baseURL: stack.gw.url, apiKey: 'c', maxRetries: 0 })
    await client.messages.create({ model: 'claude', max_tokens: 3, messages: [{ role: 'user', content: 'hi' }] }, { headers: { 'anthropic-version': '2024-10-22', 'anthropic-beta': 'tools-beta', 'x-request-id': 'h-ant' } })
    const h = seen('h-ant')
    expect(h['anthropic-version']).toBe('2024-10-22')
    expect(h['anthropic-beta']).toBe('tools-beta')
    expect(h['openai-organization']).toBeUndefined()
  })

  it('without a client version the configured one is sent', async () => {
    const res = await fetch(`${stack.gw.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': 'h-ant-2' }, body: JSON.stringify({ model: 'claude', max_tokens: 3, messages: [{ role: 'user', content: 'hi' }] }) })
    expect(res.status).toBe(200)
    expect(seen('h-ant-2')['anthropic-version']).toBe('2023-06-01')
  })
})
