import OpenAI from 'openai'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { expectErrorBody, send, sseData, sseEventNames, startWatchedStack, type WatchedStack } from '../../support/data-plane.js'

// The official openai client (and fetch, for the Anthropic dialect) against sluice in front of
// the simulator: what a real application sees, typed errors included.

const bodyLimit = 64 * 1024

describe('data plane: the official clients through sluice', () => {
  let stack: WatchedStack
  let client: OpenAI
  beforeAll(async () => {
    stack = await startWatchedStack({
      gateway: (simUrl) => ({
        server: { body_limit: bodyLimit },
        providers: {
          sim: { type: 'openai', base_url: `${simUrl}/v1`, keys: [{ id: 'k1', key: 'sk-sim-test-1' }] },
          anth: { type: 'anthropic', base_url: `${simUrl}/v1`, keys: [{ id: 'a1', key: 'sk-ant-sim-1' }] },
          az: { type: 'azure', base_url: simUrl, api_version: '2024-10-21', keys: [{ id: 'z1', key: 'azure-sim-key-1' }] },
        },
        models: {
          'test-model': { targets: [{ provider: 'sim', model: 'sim-model' }] },
          'claude-test': { targets: [{ provider: 'anth', model: 'claude-sim' }] },
          'azure-test': { targets: [{ provider: 'az', model: 'my-deployment' }] },
        },
      }),
    })
    client = new OpenAI({ baseURL: stack.baseURL, apiKey: 'x', maxRetries: 0 })
  })
  afterAll(() => stack.close())
  beforeEach(() => stack.sim.reset())

  const messages = [{ role: 'user' as const, content: 'Tell me about rivers' }]

  it('chat: a completion with the upstream model and key', async () => {
    const res = await client.chat.completions.create({ model: 'test-model', messages, max_tokens: 12 })
    expect(res.object).toBe('chat.completion')
    expect(res.choices[0]?.message.content).toBeTruthy()
    expect(res.usage?.completion_tokens).toBe(12)
    await stack.sim.waitForRequests(1)
    const seen = stack.sim.requests()[0]
    expect(seen?.headers.authorization).toBe('Bearer sk-sim-test-1')
    expect((seen?.body_json as { model: string }).model).toBe('sim-model')
  })

  it('chat streaming: read chunk by chunk, joined equal to the non-stream answer', async () => {
    const whole = await client.chat.completions.create({ model: 'test-model', messages, max_tokens: 20 })
    const stream = await client.chat.completions.create({ model: 'test-model', messages, max_tokens: 20, stream: true })
    const parts: string[] = []
    let chunks = 0
    for await (const chunk of stream) {
      chunks++
      parts.push(chunk.choices[0]?.delta.content ?? '')
    }
    expect(chunks).toBeGreaterThanOrEqual(20)
    const expected = whole.choices[0]?.message.content
    expect(expected).toBeTruthy()
    expect(parts.join('')).toBe(expected)
  })

  it('completions', async () => {
    const res = await client.completions.create({ model: 'test-model', prompt: 'Once upon a time', max_tokens: 5 })
    expect(res.object).toBe('text_completion')
    expect(res.choices[0]?.text).toBeTruthy()
    expect(res.usage?.completion_tokens).toBe(5)
  })

  it('embeddings: one vector per input, of the requested length', async () => {
    const res = await client.embeddings.create({ model: 'test-model', input: ['alpha', 'beta', 'gamma'], dimensions: 64 })
    expect(res.data).toHaveLength(3)
    for (const [i, item] of res.data.entries()) {
      expect(item.index).toBe(i)
      expect(item.embedding).toHaveLength(64)
      expect(item.embedding.every((x) => Number.isFinite(x))).toBe(true)
    }
    const plain = await client.embeddings.create({ model: 'test-model', input: 'alpha', encoding_format: 'float' })
    expect(plain.data).toHaveLength(1)
    expect(plain.data[0]?.embedding.length).toBeGreaterThan(0)
  })

  it('models.list() and models.retrieve() have the OpenAI shape', async () => {
    const ids: string[] = []
    for await (const m of client.models.list()) {
      expect(m).toMatchObject({ object: 'model', owned_by: 'sluice' })
      expect(m.created).toBeTypeOf('number')
      ids.push(m.id)
    }
    expect(ids.sort()).toEqual(['azure-test', 'claude-test', 'test-model'])
    const one = await client.models.retrieve('test-model')
    expect(one).toMatchObject({ id: 'test-model', object: 'model', owned_by: 'sluice' })
    await expect(client.models.retrieve('no-such-model')).rejects.toBeInstanceOf(OpenAI.NotFoundError)
  })

  it('an unknown model (no passthrough) is a NotFoundError with code model_not_found and param model', async () => {
    const err: unknown = await client.chat.completions.create({ model: 'gpt-nope', messages }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(OpenAI.NotFoundError)
    const e = err as InstanceType<typeof OpenAI.NotFoundError>
    expect(e.status).toBe(404)
    expect(e.code).toBe('model_not_found')
    expect(e.param).toBe('model')
    expect(e.type).toBe('invalid_request_error')
    expect(e.headers.get('x-request-id')).toBeTruthy()
    expect(stack.sim.requests()).toHaveLength(0)
  })

  it('a wrongly typed field is a BadRequestError naming the param', async () => {
    const err: unknown = await client.post('/chat/completions', { body: { model: 'test-model', messages: 'hi' } }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(OpenAI.BadRequestError)
    const e = err as InstanceType<typeof OpenAI.BadRequestError>
    expect(e.status).toBe(400)
    expect(e.code).toBe('invalid_request_error')
    expect(e.param).toBe('messages')
    expect(stack.sim.requests()).toHaveLength(0)
  })

  it('a body over server.body_limit is an APIError 413 request_too_large', async () => {
    const big = 'x'.repeat(bodyLimit + 1024)
    const err: unknown = await client.chat.completions.create({ model: 'test-model', messages: [{ role: 'user', content: big }] }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(OpenAI.APIError)
    const e = err as InstanceType<typeof OpenAI.APIError>
    expect(e.status).toBe(413)
    expect(e.code).toBe('request_too_large')
    expect(stack.sim.requests()).toHaveLength(0)
  })

  it('Anthropic dialect: /v1/messages reaches the simulator with x-api-key and anthropic-version', async () => {
    const body = { model: 'claude-test', max_tokens: 8, messages: [{ role: 'user', content: 'hello' }] }
    const res = await fetch(`${stack.baseURL}/messages`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': 'client-key' }, body: JSON.stringify(body) })
    expect(res.status).toBe(200)
    const json = (await res.json()) as { type: string; model: string; content: { type: string; text: string }[]; usage: { output_tokens: number } }
    expect(json.type).toBe('message')
    expect(json.model).toBe('claude-sim')
    expect(json.content[0]?.text).toBeTruthy()
    expect(json.usage.output_tokens).toBe(8)

    const streamed = await fetch(`${stack.baseURL}/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...body, stream: true }) })
    expect(streamed.status).toBe(200)
    expect(streamed.headers.get('content-type')).toContain('text/event-stream')
    const text = await streamed.text()
    const names = sseEventNames(text)
    expect(names[0]).toBe('message_start')
    expect(names.at(-1)).toBe('message_stop')
    expect(names.filter((n) => n === 'content_block_delta')).toHaveLength(8)
    const deltas = sseData(text)
      .map((d) => JSON.parse(d) as { type: string; delta?: { text?: string } })
      .filter((d) => d.type === 'content_block_delta')
      .map((d) => d.delta?.text ?? '')
    expect(deltas.join('')).toBe(json.content[0]?.text)

    await stack.sim.waitForRequests(2)
    const seen = stack.sim.requests()
    expect(seen).toHaveLength(2)
    for (const r of seen) {
      expect(r.path).toBe('/v1/messages')
      expect(r.status).toBe(200)
      expect(r.headers['x-api-key']).toBe('sk-ant-sim-1')
      expect(r.headers['anthropic-version']).toBe('2023-06-01')
      expect(r.headers.authorization).toBeUndefined()
      expect((r.body_json as { model: string }).model).toBe('claude-sim')
    }
    expect(seen.map((r) => r.stream)).toEqual([false, true])
  })

  it('Azure dialect: chat reaches /openai/deployments/<model>/chat/completions?api-version= with api-key', async () => {
    const res = await client.chat.completions.create({ model: 'azure-test', messages, max_tokens: 4 })
    expect(res.choices[0]?.message.content).toBeTruthy()
    await stack.sim.waitForRequests(1)
    const seen = stack.sim.requests()[0]
    expect(seen?.path).toBe('/openai/deployments/my-deployment/chat/completions')
    // The simulator refuses an Azure request without ?api-version= (400), so 200 proves it was sent.
    expect(seen?.status).toBe(200)
    expect(seen?.headers['api-key']).toBe('azure-sim-key-1')
    expect(seen?.headers.authorization).toBeUndefined()
    expect(seen?.model).toBe('my-deployment')
  })

  it('raw errors from these endpoints have exactly error.{message,type,code,param}', async () => {
    const res = await send(stack.gw.url, '/v1/chat/completions', { body: { model: 'gpt-nope', messages } })
    expect(res.status).toBe(404)
    expectErrorBody(res.json(), 'model_not_found', 'model')
  })
})
