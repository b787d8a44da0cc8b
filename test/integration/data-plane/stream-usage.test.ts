import OpenAI from 'openai'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { sseData, startWatchedStack, type WatchedStack } from '../../support/data-plane.js'
import { send } from '../../support/data-plane.js'

// Every stream is accounted for: sluice asks the upstream for the usage chunk, records what it
// says, and removes that chunk again for a client that did not ask for it.

describe('data plane: stream usage', () => {
  let stack: WatchedStack
  beforeAll(async () => {
    stack = await startWatchedStack()
  })
  afterAll(() => stack.close())
  beforeEach(() => stack.sim.reset())

  const chat = (extra: Record<string, unknown>) => ({ model: 'test-model', messages: [{ role: 'user', content: 'Tell me something' }], stream: true, ...extra })

  it('a client that did not ask gets the stream without the usage chunk, and the usage is recorded', async () => {
    const reply = await send(stack.gw.url, '/v1/chat/completions', { body: chat({ max_tokens: 40 }) })
    expect(reply.status).toBe(200)
    const events = sseData(reply.text)
    // role preamble + 40 tokens + finish event + [DONE]; no chunk without choices.
    expect(events).toHaveLength(43)
    expect(events.at(-1)).toBe('[DONE]')
    for (const e of events.slice(0, -1)) expect((JSON.parse(e) as { choices: unknown[] }).choices.length).toBe(1)
    const [record] = await stack.logs.waitForAccessLog((r) => r.length >= 1)
    expect(record).toMatchObject({ completionTokens: 40 })
    expect(record?.promptTokens).toBeGreaterThan(0)
  })

  it('a client that asked gets the usage chunk as the upstream sent it', async () => {
    const reply = await send(stack.gw.url, '/v1/chat/completions', { body: chat({ max_tokens: 10, stream_options: { include_usage: true } }) })
    const events = sseData(reply.text)
    expect(events).toHaveLength(14)
    const usage = JSON.parse(events.at(-2) as string) as { choices: unknown[]; usage: { completion_tokens: number } }
    expect(usage.choices).toEqual([])
    expect(usage.usage.completion_tokens).toBe(10)
  })

  it('the openai client reads a stream it did not ask usage for as usual', async () => {
    const client = new OpenAI({ baseURL: stack.baseURL, apiKey: 'unused', maxRetries: 0 })
    const stream = await client.chat.completions.create({ model: 'test-model', messages: [{ role: 'user', content: 'hi' }], stream: true, max_tokens: 5 })
    let text = ''
    let sawUsage = false
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? ''
      if (chunk.usage) sawUsage = true
    }
    expect(text.length).toBeGreaterThan(0)
    expect(sawUsage).toBe(false)
  })
})
