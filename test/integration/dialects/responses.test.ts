import OpenAI from 'openai'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { send, sseEventNames } from '../../support/data-plane.js'
import { startStack, type Stack } from '../../support/harness.js'

// POST /v1/responses is managed like chat completions (routed, queued, paced, balanced,
// retried, ledgered); the stored response is read back, listed and deleted through the key that
// created it, even with two keys round-robin and no passthrough provider.

const secretA = 'sk-resp-a-2f3e4d5c'
const secretB = 'sk-resp-b-6a7b8c9d'

describe('the Responses API', () => {
  let stack: Stack
  let client: OpenAI

  beforeAll(async () => {
    stack = await startStack({
      sim: { keys: { [secretA]: { id: 'a' }, [secretB]: { id: 'b' } }, completion_tokens: 5, latency: { tokens_per_second: 2000 } },
      gateway: (simUrl) => ({
        providers: { oa: { type: 'openai', base_url: `${simUrl}/v1`, keys: [{ id: 'a', key: secretA }, { id: 'b', key: secretB }] } },
        models: { 'gpt-resp': { targets: [{ provider: 'oa', model: 'gpt-up' }], strategy: 'round-robin' } },
      }),
    })
    client = new OpenAI({ baseURL: stack.baseURL, apiKey: 'c', maxRetries: 0 })
  })
  afterAll(() => stack?.close())

  it('create (not streamed): the upstream model is swapped in, usage reaches the access log', async () => {
    const res = await client.responses.create({ model: 'gpt-resp', input: 'Hello there', max_output_tokens: 4 }, { headers: { 'x-request-id': 'resp-1' } })
    expect(res.object).toBe('response')
    expect(res.status).toBe('completed')
    expect(res.output_text.length).toBeGreaterThan(0)
    expect(res.usage).toMatchObject({ output_tokens: 4 })
    const upstream = stack.sim.requests().find((r) => r.headers['x-request-id'] === 'resp-1')
    expect(upstream?.path).toBe('/v1/responses')
    expect((upstream?.body_json as { model: string }).model).toBe('gpt-up')
    const log = await stack.logs.waitForAccessLog((all) => all.some((r) => r.requestId === 'resp-1'))
    expect(log.find((r) => r.requestId === 'resp-1')).toMatchObject({ endpoint: 'responses', status: 200, promptTokens: 3, completionTokens: 4 })
  })

  it('create (streamed): the events end with response.completed, whose usage is recorded', async () => {
    const stream = await client.responses.create({ model: 'gpt-resp', input: 'Hello there', max_output_tokens: 3, stream: true }, { headers: { 'x-request-id': 'resp-2' } })
    const types: string[] = []
    let text = ''
    for await (const event of stream) {
      types.push(event.type)
      if (event.type === 'response.output_text.delta') text += event.delta
    }
    expect(types[0]).toBe('response.created')
    expect(types.at(-1)).toBe('response.completed')
    expect(text.length).toBeGreaterThan(0)
    const log = await stack.logs.waitForAccessLog((all) => all.some((r) => r.requestId === 'resp-2'))
    expect(log.find((r) => r.requestId === 'resp-2')).toMatchObject({ endpoint: 'responses', stream: true, completionTokens: 3 })
  })

  it('retrieve, input_items and delete go to the key that created the response, whichever key round-robin would pick', async () => {
    const created: { id: string; key: string }[] = []
    for (let i = 0; i < 2; i++) {
      const res = await client.responses.create({ model: 'gpt-resp', input: `question ${i}`, max_output_tokens: 2 }, { headers: { 'x-request-id': `resp-pin-${i}` } })
      const key = stack.sim.requests().find((r) => r.headers['x-request-id'] === `resp-pin-${i}`)!.key_id
      created.push({ id: res.id, key })
    }
    expect(new Set(created.map((c) => c.key))).toEqual(new Set(['a', 'b']))
    for (const c of created) {
      for (let round = 0; round < 2; round++) {
        const got = await client.responses.retrieve(c.id)
        expect(got.id).toBe(c.id)
      }
      const items = await client.responses.inputItems.list(c.id)
      expect(items.data.length).toBe(1)
      const readers = stack.sim.requests().filter((r) => r.path.startsWith(`/v1/responses/${c.id}`)).map((r) => r.key_id)
      expect(readers.length).toBe(3)
      expect(new Set(readers)).toEqual(new Set([c.key]))
    }
    await client.responses.delete(created[0]!.id)
    await expect(client.responses.retrieve(created[0]!.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError)
  })

  it('an unknown response id without a passthrough provider: 404', async () => {
    const res = await send(stack.gw.url, '/v1/responses/resp_unknown')
    expect(res.status).toBe(404)
  })

  it('a stream broken mid-way ends with the Responses API\'s own error event, which the client raises', async () => {
    stack.sim.script([{ kind: 'reset_mid_stream', after_chunks: 2, match: { model: 'gpt-up' } }])
    const res = await send(stack.gw.url, '/v1/responses', { body: { model: 'gpt-resp', input: 'x', max_output_tokens: 5, stream: true } })
    const names = sseEventNames(res.text)
    expect(names.at(-1)).toBe('error')
    expect(names).not.toContain('response.completed')
    // Iterating the raw stream, the client reads the protocol's error event as the last event…
    stack.sim.script([{ kind: 'reset_mid_stream', after_chunks: 2, match: { model: 'gpt-up' } }])
    const stream = await client.responses.create({ model: 'gpt-resp', input: 'x', max_output_tokens: 5, stream: true })
    const seen: string[] = []
    for await (const event of stream) seen.push(event.type)
    expect(seen.at(-1)).toBe('error')
    // …and the stream helper rejects with it.
    stack.sim.script([{ kind: 'reset_mid_stream', after_chunks: 2, match: { model: 'gpt-up' } }])
    const err = await client.responses.stream({ model: 'gpt-resp', input: 'x', max_output_tokens: 5 }).finalResponse().then(() => null, (e: unknown) => e)
    expect(err).toMatchObject({ type: 'error', code: 'upstream_error', message: expect.stringContaining('oa') })
  })

  it('a body without input: 400 naming it, before any upstream call', async () => {
    const before = stack.sim.requests().length
    const err = await client.responses.create({ model: 'gpt-resp' } as unknown as OpenAI.Responses.ResponseCreateParamsNonStreaming).then(() => null, (e: unknown) => e)
    expect(err).toBeInstanceOf(OpenAI.BadRequestError)
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('input')
    expect(stack.sim.requests().length).toBe(before)
  })
})
