import { describe, expect, it } from 'vitest'
import { SluiceError } from '../../../../src/errors.js'
import type { Endpoint } from '../../../../src/providers/types.js'
import { checkBody, parseJsonBody } from '../../../../src/stages/ingress/validate.js'

function thrown(fn: () => unknown): SluiceError {
  try {
    fn()
  } catch (err) {
    if (err instanceof SluiceError) return err
    throw err
  }
  throw new Error('expected a SluiceError')
}

const user = { role: 'user', content: 'hi' }
const chat = (extra: Record<string, unknown> = {}) => ({ model: 'gpt-4o', messages: [user], ...extra })
const messages = (extra: Record<string, unknown> = {}) => ({ model: 'claude', max_tokens: 16, messages: [user], ...extra })
const completions = (extra: Record<string, unknown> = {}) => ({ model: 'm', prompt: 'hi', ...extra })
const embeddings = (extra: Record<string, unknown> = {}) => ({ model: 'e', input: 'hi', ...extra })

describe('checkBody: refused bodies name the field', () => {
  const cases: { endpoint: Endpoint; body: Record<string, unknown>; param: string }[] = [
    // model, for every endpoint
    { endpoint: 'chat', body: { messages: [user] }, param: 'model' },
    { endpoint: 'chat', body: chat({ model: '' }), param: 'model' },
    { endpoint: 'chat', body: chat({ model: 4 }), param: 'model' },
    { endpoint: 'chat', body: chat({ model: null }), param: 'model' },
    { endpoint: 'chat', body: chat({ model: 'm'.repeat(257) }), param: 'model' },
    { endpoint: 'completions', body: { prompt: 'x' }, param: 'model' },
    { endpoint: 'embeddings', body: { input: 'x' }, param: 'model' },
    { endpoint: 'messages', body: { max_tokens: 1, messages: [user] }, param: 'model' },
    // stream and stream_options, for every endpoint
    { endpoint: 'chat', body: chat({ stream: 'true' }), param: 'stream' },
    { endpoint: 'chat', body: chat({ stream: 1 }), param: 'stream' },
    { endpoint: 'messages', body: messages({ stream: 'yes' }), param: 'stream' },
    { endpoint: 'completions', body: completions({ stream: {} }), param: 'stream' },
    { endpoint: 'chat', body: chat({ stream_options: [] }), param: 'stream_options' },
    { endpoint: 'chat', body: chat({ stream_options: 'include_usage' }), param: 'stream_options' },
    // messages
    { endpoint: 'chat', body: { model: 'm' }, param: 'messages' },
    { endpoint: 'chat', body: chat({ messages: 'hi' }), param: 'messages' },
    { endpoint: 'chat', body: chat({ messages: {} }), param: 'messages' },
    { endpoint: 'chat', body: chat({ messages: [] }), param: 'messages' },
    { endpoint: 'chat', body: chat({ messages: [null] }), param: 'messages[0]' },
    { endpoint: 'chat', body: chat({ messages: [user, 'hi'] }), param: 'messages[1]' },
    { endpoint: 'chat', body: chat({ messages: [user, [user]] }), param: 'messages[1]' },
    { endpoint: 'chat', body: chat({ messages: [user, { content: 'x' }] }), param: 'messages[1].role' },
    { endpoint: 'chat', body: chat({ messages: [user, user, { role: 3 }] }), param: 'messages[2].role' },
    { endpoint: 'messages', body: messages({ messages: [] }), param: 'messages' },
    { endpoint: 'messages', body: messages({ messages: [{ content: 'x' }] }), param: 'messages[0].role' },
    // numbers
    { endpoint: 'chat', body: chat({ max_tokens: 0 }), param: 'max_tokens' },
    { endpoint: 'chat', body: chat({ max_tokens: -1 }), param: 'max_tokens' },
    { endpoint: 'chat', body: chat({ max_tokens: 1.5 }), param: 'max_tokens' },
    { endpoint: 'chat', body: chat({ max_tokens: '10' }), param: 'max_tokens' },
    { endpoint: 'chat', body: chat({ max_completion_tokens: 0 }), param: 'max_completion_tokens' },
    { endpoint: 'chat', body: chat({ n: 0 }), param: 'n' },
    { endpoint: 'chat', body: chat({ temperature: '0.7' }), param: 'temperature' },
    { endpoint: 'chat', body: chat({ temperature: true }), param: 'temperature' },
    { endpoint: 'chat', body: chat({ top_p: [] }), param: 'top_p' },
    { endpoint: 'messages', body: { model: 'claude', messages: [user] }, param: 'max_tokens' },
    { endpoint: 'messages', body: messages({ max_tokens: 0 }), param: 'max_tokens' },
    { endpoint: 'messages', body: messages({ temperature: 'hot' }), param: 'temperature' },
    // completions
    { endpoint: 'completions', body: { model: 'm' }, param: 'prompt' },
    { endpoint: 'completions', body: completions({ prompt: 5 }), param: 'prompt' },
    { endpoint: 'completions', body: completions({ prompt: null }), param: 'prompt' },
    { endpoint: 'completions', body: completions({ max_tokens: 0 }), param: 'max_tokens' },
    { endpoint: 'completions', body: completions({ n: 2.5 }), param: 'n' },
    { endpoint: 'completions', body: completions({ temperature: '1' }), param: 'temperature' },
    // embeddings
    { endpoint: 'embeddings', body: { model: 'e' }, param: 'input' },
    { endpoint: 'embeddings', body: embeddings({ input: 5 }), param: 'input' },
    { endpoint: 'embeddings', body: embeddings({ input: {} }), param: 'input' },
    { endpoint: 'embeddings', body: embeddings({ input: [] }), param: 'input' },
    { endpoint: 'embeddings', body: embeddings({ stream: true }), param: 'stream' },
    { endpoint: 'embeddings', body: embeddings({ dimensions: 0 }), param: 'dimensions' },
  ]
  for (const c of cases) {
    it(`${c.endpoint} ${JSON.stringify(c.body)} → param ${c.param}`, () => {
      const err = thrown(() => checkBody(c.endpoint, c.body))
      expect(err.code).toBe('invalid_request_error')
      expect(err.status).toBe(400)
      expect(err.param).toBe(c.param)
      expect(err.toJSON().error.param).toBe(c.param)
      expect(err.message.length).toBeGreaterThan(0)
    })
  }
})

describe('checkBody: accepted bodies', () => {
  const cases: { endpoint: Endpoint; body: Record<string, unknown>; stream: boolean }[] = [
    { endpoint: 'chat', body: chat(), stream: false },
    { endpoint: 'chat', body: chat({ stream: true, stream_options: { include_usage: true } }), stream: true },
    { endpoint: 'chat', body: chat({ stream: false }), stream: false },
    { endpoint: 'chat', body: chat({ stream: null, stream_options: null }), stream: false },
    { endpoint: 'chat', body: chat({ max_tokens: 100, max_completion_tokens: 50, n: 2, temperature: 0, top_p: 0.9 }), stream: false },
    { endpoint: 'chat', body: chat({ max_tokens: null, temperature: null }), stream: false },
    { endpoint: 'chat', body: chat({ temperature: -1 }), stream: false }, // range is the upstream's to judge
    { endpoint: 'chat', body: chat({ messages: [{ role: 'system', content: 's' }, { role: 'user', content: [{ type: 'text', text: 'x' }] }] }), stream: false },
    { endpoint: 'chat', body: chat({ tools: [{ type: 'function' }], unknown_field: { deep: 1 } }), stream: false },
    { endpoint: 'messages', body: messages(), stream: false },
    { endpoint: 'messages', body: messages({ stream: true, system: 'be brief' }), stream: true },
    { endpoint: 'completions', body: completions(), stream: false },
    { endpoint: 'completions', body: completions({ prompt: ['a', 'b'], stream: true }), stream: true },
    { endpoint: 'completions', body: completions({ prompt: [1, 2, 3] }), stream: false },
    { endpoint: 'completions', body: completions({ prompt: '' }), stream: false },
    { endpoint: 'embeddings', body: embeddings(), stream: false },
    { endpoint: 'embeddings', body: embeddings({ input: ['a', 'b'], dimensions: 256 }), stream: false },
    { endpoint: 'embeddings', body: embeddings({ stream: false }), stream: false },
  ]
  for (const c of cases) {
    it(`${c.endpoint} ${JSON.stringify(c.body)}`, () => {
      const checked = checkBody(c.endpoint, c.body)
      expect(checked.json).toBe(c.body)
      expect(checked.model).toBe(c.body.model)
      expect(checked.stream).toBe(c.stream)
    })
  }
})

describe('parseJsonBody', () => {
  const refused: { name: string; raw: string }[] = [
    { name: 'empty', raw: '' },
    { name: 'not JSON', raw: 'model=gpt-4o' },
    { name: 'truncated JSON', raw: '{"model": "gpt' },
    { name: 'an array', raw: '[{"model":"gpt-4o"}]' },
    { name: 'null', raw: 'null' },
    { name: 'a string', raw: '"gpt-4o"' },
    { name: 'a number', raw: '42' },
    { name: 'a boolean', raw: 'true' },
  ]
  for (const c of refused) {
    it(`refuses ${c.name} with invalid_json`, () => {
      const err = thrown(() => parseJsonBody(Buffer.from(c.raw)))
      expect(err.code).toBe('invalid_json')
      expect(err.status).toBe(400)
      expect(err.param).toBeNull()
    })
  }

  it('returns the parsed object', () => {
    expect(parseJsonBody(Buffer.from('{"model":"gpt-4o","messages":[],"x":{"y":null}}'))).toEqual({ model: 'gpt-4o', messages: [], x: { y: null } })
  })

  it('decodes UTF-8', () => {
    expect(parseJsonBody(Buffer.from(JSON.stringify({ content: 'héllo 👋' }), 'utf8'))).toEqual({ content: 'héllo 👋' })
  })
})
