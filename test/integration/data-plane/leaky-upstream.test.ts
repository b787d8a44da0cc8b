import OpenAI, { APIError } from 'openai'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { ECHO_KEY_HEADER } from '../../../src/simulator/index.js'
import { send, sseData, startWatchedStack, type Reply, type WatchedStack } from '../../support/data-plane.js'

// A leaky upstream answers 200 and quotes the key sluice sent it: in a JSON body, in an SSE
// event (the last one an error, as OpenAI's "Incorrect API key provided: sk-…"), cut across two
// network chunks, and in its response headers; on managed routes of both dialects and on
// passthrough. The client must never see the key, with the official openai client or fetch.

const openaiKey = 'sk-proj-leaky0123456789abcdefABCDEF0123456789'
const anthropicKey = 'sk-ant-api03-leaky9876543210zyxwvuZYXWVU'
const azureKey = '0f1e2d3c4b5a69788796a5b4c3d2e1f0'
const masked = (key: string): string => '*'.repeat(key.length)

describe('data plane: a 2xx that quotes the provider key never shows it to the client', () => {
  let stack: WatchedStack
  let client: OpenAI
  beforeAll(async () => {
    stack = await startWatchedStack({
      gateway: (simUrl) => ({
        providers: {
          leaky: { type: 'openai', base_url: `${simUrl}/v1`, keys: [{ id: 'leaky-1', key: openaiKey }] },
          anth: { type: 'anthropic', base_url: `${simUrl}/v1`, keys: [{ id: 'anth-1', key: anthropicKey }] },
          az: { type: 'azure', base_url: simUrl, api_version: '2024-10-21', keys: [{ id: 'az-1', key: azureKey }] },
        },
        models: {
          'leaky-model': { targets: [{ provider: 'leaky', model: 'sim-model' }] },
          'claude-leaky': { targets: [{ provider: 'anth', model: 'claude-sim' }] },
          'azure-leaky': { targets: [{ provider: 'az', model: 'my-deployment' }] },
        },
        passthrough: { provider: 'leaky' },
      }),
    })
    client = new OpenAI({ baseURL: stack.baseURL, apiKey: 'x', maxRetries: 0 })
  })
  afterAll(() => stack.close())
  beforeEach(() => stack.sim.reset())

  const messages = [{ role: 'user' as const, content: 'hello' }]
  const chat = (model: string, extra: Record<string, unknown> = {}) => ({ body: { model, messages, max_tokens: 4, ...extra } })

  /** Status, headers and body of a reply, none of which may hold the key. */
  function expectNoKey(reply: Reply, key = openaiKey): void {
    expect(reply.status).toBe(200)
    expect(JSON.stringify(reply.headers)).not.toContain(key)
    expect(reply.headers[ECHO_KEY_HEADER]).toBeUndefined()
    expect(reply.text).not.toContain(key)
    // The quote is still there, masked: the scrubber replaced the key, it did not drop the answer.
    expect(reply.text).toContain(`Incorrect API key provided: ${masked(key)}`)
  }

  for (const split of [false, true]) {
    const how = split ? ', the key cut across two network chunks' : ''
    for (const [route, model] of [['managed', 'leaky-model'], ['passthrough', 'gpt-4o-mini']] as const) {
      it(`${route}: a JSON body${how} (fetch)`, async () => {
        stack.sim.script([{ kind: 'echo_key_in_answer', split }])
        const reply = await send(stack.gw.url, '/v1/chat/completions', chat(model))
        expectNoKey(reply)
        // Masked in place: the relayed Content-Length still describes the body.
        if (reply.headers['content-length'] !== undefined) expect(Number(reply.headers['content-length'])).toBe(reply.bytes.length)
        expect(reply.json()).toMatchObject({ object: 'chat.completion' })
        await stack.sim.waitForRequests(1)
        expect(stack.sim.requests()[0]?.headers.authorization).toBe(`Bearer ${openaiKey}`)
      })

      it(`${route}: an SSE stream whose last event quotes the key${how} (fetch)`, async () => {
        stack.sim.script([{ kind: 'echo_key_in_answer', split }])
        const reply = await send(stack.gw.url, '/v1/chat/completions', chat(model, { stream: true }))
        expectNoKey(reply)
        const data = sseData(reply.text)
        expect(JSON.parse(data[data.length - 1] ?? '{}')).toMatchObject({ error: { message: `Incorrect API key provided: ${masked(openaiKey)}` } })
      })
    }
  }

  it('managed and passthrough, with the official openai client: JSON', async () => {
    for (const model of ['leaky-model', 'gpt-4o-mini']) {
      stack.sim.script([{ kind: 'echo_key_in_answer', split: true }])
      const { data, response } = await client.chat.completions.create({ model, messages, max_tokens: 4 }).withResponse()
      const seen = JSON.stringify(data)
      expect(seen).not.toContain(openaiKey)
      expect(seen).toContain(masked(openaiKey))
      expect(JSON.stringify([...response.headers])).not.toContain(openaiKey)
    }
  })

  it('managed and passthrough, with the official openai client: a stream ending in an error event', async () => {
    for (const model of ['leaky-model', 'gpt-4o-mini']) {
      stack.sim.script([{ kind: 'echo_key_in_answer', split: true }])
      const { data: stream, response } = await client.chat.completions.create({ model, messages, max_tokens: 4, stream: true }).withResponse()
      expect(JSON.stringify([...response.headers])).not.toContain(openaiKey)
      const parts: string[] = []
      // The client raises the stream's error event as an APIError with the upstream's message.
      const failure = await (async () => {
        for await (const chunk of stream) parts.push(chunk.choices[0]?.delta.content ?? '')
      })().then(() => null, (err: unknown) => err)
      expect(failure).toBeInstanceOf(APIError)
      expect((failure as APIError).message).toContain(masked(openaiKey))
      expect((failure as APIError).message).not.toContain(openaiKey)
      expect(parts[1]).toBe(masked(openaiKey))
      expect(parts.join('')).not.toContain(openaiKey)
    }
  })

  it('the Anthropic dialect: a JSON body and a stream', async () => {
    const body = { model: 'claude-leaky', max_tokens: 4, messages }
    const headers = { 'anthropic-version': '2023-06-01' }
    stack.sim.script([{ kind: 'echo_key_in_answer', split: true }, { kind: 'echo_key_in_answer', split: true }])
    expectNoKey(await send(stack.gw.url, '/v1/messages', { body, headers }), anthropicKey)
    expectNoKey(await send(stack.gw.url, '/v1/messages', { body: { ...body, stream: true }, headers }), anthropicKey)
  })

  it('an Azure deployment (api-key header): a JSON body and a stream', async () => {
    stack.sim.script([{ kind: 'echo_key_in_answer', split: true }, { kind: 'echo_key_in_answer', split: true }])
    expectNoKey(await send(stack.gw.url, '/v1/chat/completions', chat('azure-leaky')), azureKey)
    expectNoKey(await send(stack.gw.url, '/v1/chat/completions', chat('azure-leaky', { stream: true })), azureKey)
    await stack.sim.waitForRequests(2)
    expect(stack.sim.requests()[0]?.headers['api-key']).toBe(azureKey)
  })

  it('passthrough asks the upstream for an uncompressed answer, which the scrubber can read', async () => {
    await send(stack.gw.url, '/v1/chat/completions', { ...chat('gpt-4o-mini'), headers: { 'accept-encoding': 'gzip, br' } })
    await stack.sim.waitForRequests(1)
    expect(stack.sim.requests()[0]?.headers['accept-encoding']).toBeUndefined()
  })
})
