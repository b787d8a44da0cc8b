import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { Simulator } from '../../../src/simulator/index.js'
import { hasMultiByte, send, sha256, sseEvents, start } from './helpers.js'

let sim: Simulator
beforeAll(async () => { sim = await start({ faults: {} }) })
beforeEach(() => sim.reset())
afterAll(() => sim.close())

const headers = { 'x-api-key': 'sk-ant-test-1', 'anthropic-version': '2023-06-01' }
const message = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  model: 'claude-sim', max_tokens: 4, system: 'Be brief.', messages: [{ role: 'user', content: [{ type: 'text', text: 'Hello there' }] }], ...extra,
})

describe('Anthropic messages dialect', () => {
  it('answers in the Messages shape', async () => {
    const r = await send(sim, '/v1/messages', { headers, body: message() })
    expect(r.status).toBe(200)
    const body = r.json() as { content: Array<{ type: string, text: string }> }
    expect(body).toMatchObject({
      type: 'message', role: 'assistant', model: 'claude-sim', stop_reason: 'max_tokens',
      usage: { input_tokens: 6, output_tokens: 4 },
    })
    expect(body.content).toHaveLength(1)
    expect(body.content[0]?.type).toBe('text')
    expect(hasMultiByte(body.content[0]?.text ?? '')).toBe(true)
    expect(r.headers['request-id']).toMatch(/^req_sim/)
  })

  it('streams named events in Anthropic order, one token per delta', async () => {
    const r = await send(sim, '/v1/messages', { headers, body: message({ stream: true }) })
    expect(r.headers['content-type']).toBe('text/event-stream')
    const events = sseEvents(r.text)
    expect(events.map(([name]) => name)).toEqual([
      'message_start', 'content_block_start', 'ping',
      'content_block_delta', 'content_block_delta', 'content_block_delta', 'content_block_delta',
      'content_block_stop', 'message_delta', 'message_stop',
    ])
    for (const [name, data] of events) expect(data.type).toBe(name)
    const text = events.filter(([n]) => n === 'content_block_delta').map(([, d]) => (d.delta as { text: string }).text).join('')
    const whole = (await send(sim, '/v1/messages', { headers, body: message() })).json() as { content: Array<{ text: string }> }
    expect(text).toBe(whole.content[0]?.text)
    expect(events[8]?.[1]).toMatchObject({ delta: { stop_reason: 'max_tokens' }, usage: { output_tokens: 4 } })
    await sim.waitForRequests(2)
    expect(sim.requests()[0]?.sha256).toBe(sha256(r.bytes))
  })

  it('requires anthropic-version, x-api-key and max_tokens, answering in the Anthropic error shape', async () => {
    const noVersion = await send(sim, '/v1/messages', { headers: { 'x-api-key': 'sk-ant-test-1' }, body: message() })
    expect(noVersion.status).toBe(400)
    expect(noVersion.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } })
    const noKey = await send(sim, '/v1/messages', { headers: { 'anthropic-version': '2023-06-01' }, body: message() })
    expect(noKey.status).toBe(401)
    expect(noKey.json()).toMatchObject({ type: 'error', error: { type: 'authentication_error' } })
    const noMax = await send(sim, '/v1/messages', { headers, body: message({ max_tokens: undefined }) })
    expect(noMax.status).toBe(400)
  })

  it('answers an injected 529 as overloaded_error', async () => {
    sim.script([{ kind: 'error', status: 529 }])
    const r = await send(sim, '/v1/messages', { headers, body: message() })
    expect(r.status).toBe(529)
    expect(r.json()).toEqual({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } })
  })
})
