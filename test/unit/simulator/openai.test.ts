import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { Simulator } from '../../../src/simulator/index.js'
import { bearer, chatBody, hasMultiByte, send, sha256, sseData, start } from './helpers.js'

let sim: Simulator
beforeAll(async () => { sim = await start({ completion_tokens: 5 }) })
beforeEach(() => sim.reset())
afterAll(() => sim.close())

interface ChatCompletion {
  id: string, object: string, created: number, model: string
  choices: Array<{ index: number, message: { role: string, content: string }, finish_reason: string }>
  usage: { prompt_tokens: number, completion_tokens: number, total_tokens: number }
}

describe('OpenAI chat completions', () => {
  it('answers a non-streamed request in OpenAI shape, with multi-byte text', async () => {
    const r = await send(sim, '/v1/chat/completions', { headers: bearer('sk-anything'), body: chatBody() })
    expect(r.status).toBe(200)
    expect(r.headers['content-type']).toBe('application/json')
    const body = r.json() as ChatCompletion
    expect(body).toMatchObject({ object: 'chat.completion', model: 'sim-small', choices: [{ index: 0, message: { role: 'assistant' }, finish_reason: 'stop' }] })
    expect(body.id).toMatch(/^chatcmpl-/)
    expect(hasMultiByte(body.choices[0]?.message.content ?? '')).toBe(true)
    expect(body.usage).toEqual({ prompt_tokens: 9, completion_tokens: 5, total_tokens: 14 })
  })

  it('generates the same text for the same request', async () => {
    const a = (await send(sim, '/v1/chat/completions', { headers: bearer('k1-aaaaaaaa'), body: chatBody() })).json() as ChatCompletion
    const b = (await send(sim, '/v1/chat/completions', { headers: bearer('k2-bbbbbbbb'), body: chatBody() })).json() as ChatCompletion
    const c = (await send(sim, '/v1/chat/completions', { headers: bearer('k1-aaaaaaaa'), body: chatBody({ messages: [{ role: 'user', content: 'other' }] }) })).json() as ChatCompletion
    expect(a.choices[0]?.message.content).toBe(b.choices[0]?.message.content)
    expect(a.choices[0]?.message.content).not.toBe(c.choices[0]?.message.content)
  })

  it('streams one token per chunk, then a finish chunk and [DONE]', async () => {
    const r = await send(sim, '/v1/chat/completions', { headers: bearer('sk-x-12345678'), body: chatBody({ stream: true }) })
    expect(r.status).toBe(200)
    expect(r.headers['content-type']).toBe('text/event-stream')
    const data = sseData(r.text)
    expect(data.at(-1)).toBe('[DONE]')
    const chunks = data.slice(0, -1).map((d) => JSON.parse(d) as { object: string, choices: Array<{ delta: { role?: string, content?: string }, finish_reason: string | null }>, usage?: unknown })
    expect(chunks).toHaveLength(1 + 5 + 1)
    expect(chunks[0]?.choices[0]?.delta).toEqual({ role: 'assistant', content: '', refusal: null })
    expect(chunks.every((c) => c.object === 'chat.completion.chunk' && !('usage' in c))).toBe(true)
    const tokens = chunks.slice(1, 6).map((c) => c.choices[0]?.delta.content ?? '')
    expect(tokens.every(hasMultiByte)).toBe(true)
    expect(chunks[6]?.choices[0]).toMatchObject({ delta: {}, finish_reason: 'stop' })
    // Streamed and non-streamed answers carry the same text.
    const whole = (await send(sim, '/v1/chat/completions', { headers: bearer('sk-x-12345678'), body: chatBody() })).json() as ChatCompletion
    expect(tokens.join('')).toBe(whole.choices[0]?.message.content)
  })

  it('with stream_options.include_usage, ends with a usage chunk whose choices are empty', async () => {
    const r = await send(sim, '/v1/chat/completions', { headers: bearer('sk-x-12345678'), body: chatBody({ stream: true, max_tokens: 3, stream_options: { include_usage: true } }) })
    const chunks = sseData(r.text).slice(0, -1).map((d) => JSON.parse(d) as { choices: Array<{ finish_reason: string | null }>, usage: unknown })
    expect(chunks.slice(0, -1).every((c) => c.usage === null)).toBe(true)
    expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe('length')
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 9, completion_tokens: 3, total_tokens: 12 } })
  })

  it('produces 1000 chunks for max_tokens 1000 without pacing', async () => {
    const r = await send(sim, '/v1/chat/completions', { headers: bearer('sk-x-12345678'), body: chatBody({ stream: true, max_tokens: 1000 }) })
    expect(sseData(r.text)).toHaveLength(1 + 1000 + 1 + 1)
  })

  it('accepts max_completion_tokens', async () => {
    const body = (await send(sim, '/v1/chat/completions', { headers: bearer('sk-x-12345678'), body: chatBody({ max_completion_tokens: 2 }) })).json() as ChatCompletion
    expect(body.usage.completion_tokens).toBe(2)
    expect(body.choices[0]?.finish_reason).toBe('length')
  })

  it('records exactly the bytes the client received', async () => {
    const streamed = await send(sim, '/v1/chat/completions', { headers: bearer('sk-x-12345678'), body: chatBody({ stream: true }) })
    const whole = await send(sim, '/v1/chat/completions', { headers: bearer('sk-x-12345678'), body: chatBody() })
    await sim.waitForRequests(2)
    const [a, b] = sim.requests()
    expect(a).toMatchObject({ path: '/v1/chat/completions', method: 'POST', model: 'sim-small', stream: true, status: 200, aborted: false, bytes_sent: streamed.bytes.length, sha256: sha256(streamed.bytes) })
    expect(b).toMatchObject({ stream: false, bytes_sent: whole.bytes.length, sha256: sha256(whole.bytes) })
    expect(a?.headers.authorization).toBe('Bearer sk-x-12345678')
    expect(a?.body_json).toMatchObject({ model: 'sim-small', stream: true })
  })

  it('refuses bad requests in the OpenAI error shape', async () => {
    const cases = [
      { body: { messages: [] }, status: 400, param: 'model' },
      { body: { model: 'm' }, status: 400, param: 'messages' },
      { body: chatBody({ max_tokens: 0 }), status: 400, param: 'max_tokens' },
    ]
    for (const c of cases) {
      const r = await send(sim, '/v1/chat/completions', { headers: bearer('sk-x-12345678'), body: c.body })
      expect(r.status).toBe(c.status)
      expect(r.json()).toMatchObject({ error: { type: 'invalid_request_error', param: c.param, code: null } })
      expect(Object.keys((r.json() as { error: object }).error).sort()).toEqual(['code', 'message', 'param', 'type'])
    }
    const notJson = await send(sim, '/v1/chat/completions', { headers: bearer('sk-x-12345678'), body: 'not an object' })
    expect(notJson.status).toBe(400)
    const missing = await send(sim, '/v1/chat/completions', { body: chatBody() })
    expect(missing.status).toBe(401)
    const unknownPath = await send(sim, '/v1/nope', { headers: bearer('sk-x-12345678'), body: {} })
    expect(unknownPath.status).toBe(404)
  })
})

describe('OpenAI completions, embeddings and models', () => {
  it('answers legacy completions, streamed and not', async () => {
    const whole = await send(sim, '/v1/completions', { headers: bearer('sk-x-12345678'), body: { model: 'sim-small', prompt: 'Once upon a time', max_tokens: 4 } })
    expect(whole.json()).toMatchObject({ object: 'text_completion', choices: [{ index: 0, finish_reason: 'length' }], usage: { completion_tokens: 4 } })
    const streamed = await send(sim, '/v1/completions', { headers: bearer('sk-x-12345678'), body: { model: 'sim-small', prompt: 'Once upon a time', max_tokens: 4, stream: true } })
    const data = sseData(streamed.text)
    expect(data.at(-1)).toBe('[DONE]')
    const texts = data.slice(0, -1).map((d) => (JSON.parse(d) as { choices: Array<{ text: string }> }).choices[0]?.text)
    expect(texts.join('')).toBe((whole.json() as { choices: Array<{ text: string }> }).choices[0]?.text)
  })

  it('returns deterministic unit vectors of the asked dimension', async () => {
    const r = await send(sim, '/v1/embeddings', { headers: bearer('sk-x-12345678'), body: { model: 'embed', input: ['a', 'b'] } })
    const body = r.json() as { object: string, data: Array<{ object: string, index: number, embedding: number[] }>, usage: { prompt_tokens: number } }
    expect(body.object).toBe('list')
    expect(body.data.map((d) => [d.object, d.index, d.embedding.length])).toEqual([['embedding', 0, 8], ['embedding', 1, 8]])
    const norm = Math.hypot(...(body.data[0]?.embedding ?? []))
    expect(norm).toBeCloseTo(1, 5)
    const again = await send(sim, '/v1/embeddings', { headers: bearer('sk-x-12345678'), body: { model: 'embed', input: 'a', dimensions: 3 } })
    const one = again.json() as { data: Array<{ embedding: number[] }> }
    expect(one.data[0]?.embedding).toHaveLength(3)
    const same = await send(sim, '/v1/embeddings', { headers: bearer('sk-other-key'), body: { model: 'embed', input: ['a', 'b'] } })
    expect(same.text).toBe(r.text)
  })

  it('lists models and finds one by id, slashes included', async () => {
    const list = (await send(sim, '/v1/models', { headers: bearer('sk-x-12345678') })).json() as { object: string, data: Array<{ id: string, object: string }> }
    expect(list.object).toBe('list')
    expect(list.data.map((m) => m.id)).toContain('meta/llama-3.1-70b-instruct')
    const one = await send(sim, '/v1/models/meta/llama-3.1-70b-instruct', { headers: bearer('sk-x-12345678') })
    expect(one.json()).toMatchObject({ id: 'meta/llama-3.1-70b-instruct', object: 'model' })
    const missing = await send(sim, '/v1/models/nope', { headers: bearer('sk-x-12345678') })
    expect(missing.status).toBe(404)
    expect(missing.json()).toMatchObject({ error: { code: 'model_not_found' } })
  })
})
