import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { Simulator } from '../../../src/simulator/index.js'
import { send, sseEvents, start } from './helpers.js'

// The simulator refuses a request in the wrong dialect's shape as the real API would (400, in
// that API's own error shape), serves the Responses API and Anthropic's count_tokens.

let sim: Simulator
beforeAll(async () => { sim = await start({ faults: {} }) })
beforeEach(() => sim.reset())
afterAll(() => sim.close())

const oa = { authorization: 'Bearer sk-test-1' }
const ant = { 'x-api-key': 'sk-ant-test-1', 'anthropic-version': '2023-06-01' }

describe('strict dialect checks', () => {
  const chatCases: Array<[string, Record<string, unknown>, string]> = [
    ['an Anthropic system field', { system: 'Be brief.' }, 'system'],
    ['stop_sequences', { stop_sequences: ['x'] }, 'stop_sequences'],
    ['an Anthropic tool_result block', { messages: [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 't', content: 'x' }] }] }, 'messages[0].content[0].type'],
    ['an Anthropic tool definition', { tools: [{ name: 'f', input_schema: { type: 'object' } }] }, 'tools[0].function'],
  ]
  for (const [name, extra, param] of chatCases) {
    it(`chat completions with ${name}: 400 in OpenAI's shape, param ${param}`, async () => {
      const r = await send(sim, '/v1/chat/completions', { headers: oa, body: { model: 'm', messages: [{ role: 'user', content: 'hi' }], ...extra } })
      expect(r.status).toBe(400)
      expect(r.json()).toMatchObject({ error: { type: 'invalid_request_error', param } })
    })
  }

  const messagesCases: Array<[string, Record<string, unknown>, string]> = [
    ['an OpenAI system message', { messages: [{ role: 'system', content: 'x' }, { role: 'user', content: 'hi' }] }, 'messages.0.role'],
    ['max_completion_tokens', { max_completion_tokens: 4 }, 'max_completion_tokens'],
    ['an image_url part', { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://x' } }] }] }, 'messages.0.content.0.type'],
    ['an OpenAI function tool', { tools: [{ type: 'function', function: { name: 'f' } }] }, 'tools.0.input_schema'],
    ['tool_choice as a string', { tool_choice: 'auto' }, 'tool_choice'],
  ]
  for (const [name, extra, param] of messagesCases) {
    it(`messages with ${name}: 400 in Anthropic's shape`, async () => {
      const r = await send(sim, '/v1/messages', { headers: ant, body: { model: 'c', max_tokens: 4, messages: [{ role: 'user', content: 'hi' }], ...extra } })
      expect(r.status).toBe(400)
      const body = r.json() as { type: string; error: { type: string; message: string } }
      expect(body.type).toBe('error')
      expect(body.error.type).toBe('invalid_request_error')
      expect(body.error.message.startsWith(param.split('.')[0]!)).toBe(true)
    })
  }

  it('an OpenAI-shaped request to /v1/messages with a bearer key only: 401 in Anthropic\'s shape', async () => {
    const r = await send(sim, '/v1/messages', { headers: { ...oa, 'anthropic-version': '2023-06-01' }, body: { model: 'c', max_tokens: 4, messages: [{ role: 'user', content: 'hi' }] } })
    expect(r.status).toBe(401)
    expect(r.json()).toMatchObject({ type: 'error', error: { type: 'authentication_error' } })
  })
})

describe('Anthropic count_tokens', () => {
  it('answers input_tokens by the prompt estimate, and refuses max_tokens there', async () => {
    const r = await send(sim, '/v1/messages/count_tokens', { headers: ant, body: { model: 'c', system: 'Be brief.', messages: [{ role: 'user', content: 'Hello there' }] } })
    expect(r.status).toBe(200)
    expect(r.json()).toEqual({ input_tokens: 6 })
    const bad = await send(sim, '/v1/messages/count_tokens', { headers: ant, body: { model: 'c', max_tokens: 3, messages: [{ role: 'user', content: 'x' }] } })
    expect(bad.status).toBe(400)
  })
})

describe('Responses API', () => {
  it('creates a response with usage, then retrieves, lists its input items and deletes it', async () => {
    const r = await send(sim, '/v1/responses', { headers: oa, body: { model: 'gpt-sim', input: 'Hello there', max_output_tokens: 5 } })
    expect(r.status).toBe(200)
    const body = r.json() as { id: string; object: string; status: string; output: Array<{ content: Array<{ type: string; text: string }> }>; usage: Record<string, number> }
    expect(body).toMatchObject({ object: 'response', status: 'completed', model: 'gpt-sim', usage: { input_tokens: 3, output_tokens: 5, total_tokens: 8 } })
    expect(body.output[0]?.content[0]?.type).toBe('output_text')

    const got = await send(sim, `/v1/responses/${body.id}`, { headers: oa })
    expect(got.status).toBe(200)
    expect(got.json()).toEqual(body)
    const items = await send(sim, `/v1/responses/${body.id}/input_items`, { headers: oa })
    expect(items.json()).toMatchObject({ object: 'list', data: [{ type: 'message', role: 'user' }], has_more: false })
    const del = await send(sim, `/v1/responses/${body.id}`, { method: 'DELETE', headers: oa })
    expect(del.json()).toEqual({ id: body.id, object: 'response', deleted: true })
    expect((await send(sim, `/v1/responses/${body.id}`, { headers: oa })).status).toBe(404)
  })

  it('streams the Responses events in order, sequence numbers rising, usage in response.completed', async () => {
    const r = await send(sim, '/v1/responses', { headers: oa, body: { model: 'gpt-sim', input: [{ role: 'user', content: 'Hi' }], max_output_tokens: 3, stream: true } })
    const events = sseEvents(r.text)
    expect(events.map(([n]) => n)).toEqual([
      'response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added',
      'response.output_text.delta', 'response.output_text.delta', 'response.output_text.delta',
      'response.output_text.done', 'response.content_part.done', 'response.output_item.done', 'response.completed',
    ])
    events.forEach(([name, data], i) => expect(data).toMatchObject({ type: name, sequence_number: i }))
    const completed = events.at(-1)![1] as { response: { usage: { output_tokens: number }; output: Array<{ content: Array<{ text: string }> }> } }
    expect(completed.response.usage.output_tokens).toBe(3)
    const deltas = events.filter(([n]) => n === 'response.output_text.delta').map(([, d]) => d.delta as string).join('')
    expect(completed.response.output[0]?.content[0]?.text).toBe(deltas)
  })

  it('a chat-shaped body on /v1/responses: 400 naming messages', async () => {
    const r = await send(sim, '/v1/responses', { headers: oa, body: { model: 'gpt-sim', messages: [{ role: 'user', content: 'hi' }] } })
    expect(r.status).toBe(400)
    expect(r.json()).toMatchObject({ error: { param: 'messages' } })
  })
})
