import Anthropic from '@anthropic-ai/sdk'
import OpenAI from 'openai'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { send } from '../../support/data-plane.js'
import { startStack, type Stack } from '../../support/harness.js'

// Each official client against each dialect of upstream: the OpenAI client on a model served
// by an anthropic provider, the Anthropic client on a model served by an openai provider, and
// each on its own dialect. The simulator refuses a body in the wrong dialect, so a request that
// reaches it untranslated fails these tests.

const oaSecret = 'sk-oa-translate-8e7d6c'
const antSecret = 'sk-ant-translate-5b4a39'

interface Case {
  readonly model: string
  readonly upstreamPath: string
}
const upstreams: Record<'openai' | 'anthropic', Case> = {
  openai: { model: 'gpt-served', upstreamPath: '/v1/chat/completions' },
  anthropic: { model: 'claude-served', upstreamPath: '/v1/messages' },
}

describe('translation between dialects, with the official clients', () => {
  let stack: Stack
  let openai: OpenAI
  let anthropic: Anthropic

  beforeAll(async () => {
    stack = await startStack({
      sim: { keys: { [oaSecret]: { id: 'oa' }, [antSecret]: { id: 'ant' } }, completion_tokens: 6, latency: { tokens_per_second: 2000 } },
      gateway: (simUrl) => ({
        providers: {
          oa: { type: 'openai', base_url: `${simUrl}/v1`, keys: [{ id: 'k1', key: oaSecret }] },
          ant: { type: 'anthropic', base_url: `${simUrl}/v1`, keys: [{ id: 'k2', key: antSecret }], default_max_tokens: 7 },
        },
        models: {
          'gpt-served': { targets: [{ provider: 'oa', model: 'gpt-up' }] },
          'claude-served': { targets: [{ provider: 'ant', model: 'claude-up' }] },
        },
      }),
    })
    openai = new OpenAI({ baseURL: stack.baseURL, apiKey: 'c', maxRetries: 0 })
    anthropic = new Anthropic({ baseURL: stack.gw.url, apiKey: 'c', maxRetries: 0 })
  })
  afterAll(() => stack?.close())

  const upstreamOf = (requestId: string) => {
    const r = stack.sim.requests().find((x) => x.headers['x-request-id'] === requestId)
    expect(r, requestId).toBeDefined()
    return r!
  }

  for (const [dialect, c] of Object.entries(upstreams)) {
    describe(`on an ${dialect}-dialect upstream`, () => {
      it('openai client: chat completion, with usage', async () => {
        const res = await openai.chat.completions.create({ model: c.model, messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hello there' }], max_tokens: 5 }, { headers: { 'x-request-id': `oa-chat-${dialect}` } })
        expect(res.object).toBe('chat.completion')
        expect(res.choices[0]?.message.content?.length).toBeGreaterThan(0)
        expect(res.choices[0]?.finish_reason).toBe('length')
        expect(res.usage).toMatchObject({ completion_tokens: 5 })
        expect(upstreamOf(`oa-chat-${dialect}`).path).toBe(c.upstreamPath)
      })

      it('openai client: stream, text deltas then a usage chunk when asked', async () => {
        const stream = await openai.chat.completions.create({ model: c.model, messages: [{ role: 'user', content: 'Hello' }], max_tokens: 4, stream: true, stream_options: { include_usage: true } })
        let text = ''
        let finish: string | null = null
        let usage: OpenAI.CompletionUsage | null | undefined = null
        for await (const chunk of stream) {
          text += chunk.choices[0]?.delta.content ?? ''
          finish = chunk.choices[0]?.finish_reason ?? finish
          if (chunk.usage) usage = chunk.usage
        }
        expect(text.length).toBeGreaterThan(0)
        expect(finish).toBe('length')
        expect(usage).toMatchObject({ completion_tokens: 4 })
      })

      it('anthropic client: message, with usage', async () => {
        const msg = await anthropic.messages.create({ model: c.model, system: 'Be brief.', max_tokens: 5, messages: [{ role: 'user', content: 'Hello there' }] }, { headers: { 'x-request-id': `ant-msg-${dialect}` } })
        expect(msg.type).toBe('message')
        expect(msg.content[0]?.type).toBe('text')
        expect(msg.stop_reason).toBe('max_tokens')
        expect(msg.usage.output_tokens).toBe(5)
        expect(upstreamOf(`ant-msg-${dialect}`).path).toBe(c.upstreamPath)
      })

      it('anthropic client: stream, finalMessage has the text and usage', async () => {
        const stream = anthropic.messages.stream({ model: c.model, max_tokens: 4, messages: [{ role: 'user', content: 'Hello' }] })
        let deltas = ''
        stream.on('text', (t) => (deltas += t))
        const msg = await stream.finalMessage()
        const text = msg.content.map((b) => (b.type === 'text' ? b.text : '')).join('')
        expect(text).toBe(deltas)
        expect(text.length).toBeGreaterThan(0)
        expect(msg.stop_reason).toBe('max_tokens')
        expect(msg.usage.output_tokens).toBe(4)
      })

      it('openai client: tools round trip (call, streamed call, tool result, answer)', async () => {
        const tools: OpenAI.ChatCompletionTool[] = [{ type: 'function', function: { name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' }, days: { type: 'integer' } }, required: ['city', 'days'] } } }]
        const ask: OpenAI.ChatCompletionMessageParam = { role: 'user', content: 'Weather in Paris?' }
        const first = await openai.chat.completions.create({ model: c.model, messages: [ask], tools, max_tokens: 20 })
        const call = first.choices[0]?.message.tool_calls?.[0]
        expect(first.choices[0]?.finish_reason).toBe('tool_calls')
        expect(call?.type === 'function' ? call.function.name : null).toBe('get_weather')
        expect(call?.type === 'function' ? JSON.parse(call.function.arguments) : null).toEqual({ city: 'sim', days: 1 })

        // The same call streamed: the argument deltas add up to the same JSON.
        const stream = await openai.chat.completions.create({ model: c.model, messages: [ask], tools, max_tokens: 20, stream: true })
        let args = ''
        let name = ''
        let deltas = 0
        for await (const chunk of stream) {
          for (const tc of chunk.choices[0]?.delta.tool_calls ?? []) {
            name += tc.function?.name ?? ''
            if (tc.function?.arguments) {
              args += tc.function.arguments
              deltas++
            }
          }
        }
        expect(name).toBe('get_weather')
        expect(deltas).toBeGreaterThan(3)
        expect(JSON.parse(args)).toEqual({ city: 'sim', days: 1 })

        const answer = await openai.chat.completions.create({ model: c.model, tools, max_tokens: 4, messages: [ask, first.choices[0]!.message, { role: 'tool', tool_call_id: call!.id, content: '18°C, sunny' }] })
        expect(answer.choices[0]?.message.content?.length).toBeGreaterThan(0)
        expect(answer.choices[0]?.message.tool_calls ?? []).toHaveLength(0)
      })

      it('anthropic client: tools round trip (tool_use, streamed tool_use, tool_result, answer)', async () => {
        const tools: Anthropic.Tool[] = [{ name: 'get_weather', description: 'Weather for a city', input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } }]
        const ask: Anthropic.MessageParam = { role: 'user', content: 'Weather in Paris?' }
        const first = await anthropic.messages.create({ model: c.model, max_tokens: 20, tools, messages: [ask] })
        expect(first.stop_reason).toBe('tool_use')
        const use = first.content.find((b) => b.type === 'tool_use')
        expect(use).toMatchObject({ type: 'tool_use', name: 'get_weather', input: { city: 'sim' } })

        const streamed = await anthropic.messages.stream({ model: c.model, max_tokens: 20, tools, messages: [ask] }).finalMessage()
        expect(streamed.stop_reason).toBe('tool_use')
        expect(streamed.content.find((b) => b.type === 'tool_use')).toMatchObject({ name: 'get_weather', input: { city: 'sim' } })

        const answer = await anthropic.messages.create({
          model: c.model, max_tokens: 4, tools,
          messages: [ask, { role: 'assistant', content: first.content }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: (use as Anthropic.ToolUseBlock).id, content: '18°C, sunny' }] }],
        })
        expect(answer.content[0]?.type).toBe('text')
        expect(answer.stop_reason).toBe('max_tokens')
      })

      it('openai client: a mid-stream failure is raised as an error', async () => {
        stack.sim.script([{ kind: 'reset_mid_stream', after_chunks: 2, match: { model: dialect === 'openai' ? 'gpt-up' : 'claude-up' } }])
        const stream = await openai.chat.completions.create({ model: c.model, messages: [{ role: 'user', content: 'Hello' }], max_tokens: 6, stream: true })
        const err = await (async () => {
          for await (const _ of stream) void _
        })().then(() => null, (e: unknown) => e)
        expect(err).toBeInstanceOf(OpenAI.APIError)
      })

      it('anthropic client: a mid-stream failure is raised as an error', async () => {
        stack.sim.script([{ kind: 'reset_mid_stream', after_chunks: 2, match: { model: dialect === 'openai' ? 'gpt-up' : 'claude-up' } }])
        const err = await anthropic.messages.stream({ model: c.model, max_tokens: 6, messages: [{ role: 'user', content: 'Hello' }] }).finalMessage().then(() => null, (e: unknown) => e)
        expect(err).toBeInstanceOf(Anthropic.APIError)
      })

      it('both clients: an unknown model is a 404 in their own error type', async () => {
        await expect(openai.chat.completions.create({ model: 'nope', messages: [{ role: 'user', content: 'x' }] })).rejects.toBeInstanceOf(OpenAI.NotFoundError)
        await expect(anthropic.messages.create({ model: 'nope', max_tokens: 3, messages: [{ role: 'user', content: 'x' }] })).rejects.toBeInstanceOf(Anthropic.NotFoundError)
      })

      it('an upstream 429 past the request\'s wait reaches each client with Retry-After, which its retry honours', async () => {
        const model = dialect === 'openai' ? 'gpt-up' : 'claude-up'
        for (const client of ['openai', 'anthropic'] as const) {
          stack.sim.script([{ kind: 'error', status: 429, headers: { 'retry-after': '1' }, match: { model } }])
          const started = Date.now()
          const headers = { 'x-sluice-max-wait': '0.2' }
          if (client === 'openai') {
            const retrying = new OpenAI({ baseURL: stack.baseURL, apiKey: 'c', maxRetries: 1 })
            const res = await retrying.chat.completions.create({ model: c.model, messages: [{ role: 'user', content: 'x' }], max_tokens: 2 }, { headers })
            expect(res.choices[0]?.message.content?.length).toBeGreaterThan(0)
          } else {
            const retrying = new Anthropic({ baseURL: stack.gw.url, apiKey: 'c', maxRetries: 1 })
            const res = await retrying.messages.create({ model: c.model, max_tokens: 2, messages: [{ role: 'user', content: 'x' }] }, { headers })
            expect(res.content.length).toBeGreaterThan(0)
          }
          // The client waited the Retry-After second before its retry succeeded.
          expect(Date.now() - started).toBeGreaterThanOrEqual(900)
        }
      })
    })
  }

  it('a parameter Anthropic cannot express is a 400 naming it, and nothing is sent upstream', async () => {
    const before = stack.sim.requests().length
    const err = await openai.chat.completions.create({ model: 'claude-served', messages: [{ role: 'user', content: 'x' }], n: 2 }).then(() => null, (e: unknown) => e)
    expect(err).toBeInstanceOf(OpenAI.BadRequestError)
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('n')
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).code).toBe('unsupported_parameter')
    expect(stack.sim.requests().length).toBe(before)
  })

  it('a parameter OpenAI cannot express (top_k) is a 400 in Anthropic\'s shape', async () => {
    const res = await send(stack.gw.url, '/v1/messages', { body: { model: 'gpt-served', max_tokens: 3, top_k: 5, messages: [{ role: 'user', content: 'x' }] } })
    expect(res.status).toBe(400)
    expect(res.json()).toEqual({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringContaining('top_k') } })
  })

  it('an OpenAI request without max_tokens gets the provider\'s default_max_tokens upstream', async () => {
    await openai.chat.completions.create({ model: 'claude-served', messages: [{ role: 'user', content: 'x' }] }, { headers: { 'x-request-id': 'default-max' } })
    expect((upstreamOf('default-max').body_json as { max_tokens: number }).max_tokens).toBe(7)
  })
})
