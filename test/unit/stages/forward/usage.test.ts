import { describe, expect, it } from 'vitest'
import { mergeUsage, usageFromText } from '../../../../src/stages/forward/usage.js'
import type { Usage } from '../../../../src/context.js'

const openaiBody = JSON.stringify({
  id: 'chatcmpl-1',
  object: 'chat.completion',
  choices: [{ index: 0, message: { role: 'assistant', content: 'Hello' }, finish_reason: 'stop' }],
  usage: {
    prompt_tokens: 12,
    completion_tokens: 34,
    total_tokens: 46,
    prompt_tokens_details: { cached_tokens: 5 },
    completion_tokens_details: { reasoning_tokens: 7 },
  },
})

const sse = (chunks: unknown[], done = true) => chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`).join('') + (done ? 'data: [DONE]\n\n' : '')

const openaiStream = sse([
  { id: 'c', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content: 'Hel' } }], usage: null },
  { id: 'c', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content: 'lo' }, finish_reason: 'stop' }], usage: null },
  { id: 'c', object: 'chat.completion.chunk', choices: [], usage: { prompt_tokens: 9, completion_tokens: 2, total_tokens: 11 } },
])

// vLLM/NIM continuous usage: every chunk carries cumulative usage; the last one counts.
const cumulativeStream = sse([
  { choices: [{ delta: { content: 'a' } }], usage: { prompt_tokens: 9, completion_tokens: 1, total_tokens: 10 } },
  { choices: [{ delta: { content: 'b' } }], usage: { prompt_tokens: 9, completion_tokens: 2, total_tokens: 11 } },
  { choices: [], usage: { prompt_tokens: 9, completion_tokens: 3, total_tokens: 12 } },
])

const anthropicBody = JSON.stringify({
  id: 'msg_1',
  type: 'message',
  content: [{ type: 'text', text: 'Hi' }],
  usage: { input_tokens: 21, cache_creation_input_tokens: 100, cache_read_input_tokens: 200, output_tokens: 8 },
})

const anthropicStream =
  'event: message_start\ndata: ' + JSON.stringify({ type: 'message_start', message: { usage: { input_tokens: 30, output_tokens: 1 } } }) + '\n\n' +
  'event: content_block_delta\ndata: ' + JSON.stringify({ type: 'content_block_delta', delta: { type: 'text_delta', text: 'Hi' } }) + '\n\n' +
  'event: message_delta\ndata: ' + JSON.stringify({ type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 15 } }) + '\n\n' +
  'event: message_stop\ndata: {"type":"message_stop"}\n\n'

const cases: { name: string; tail: string; usage: Usage | null }[] = [
  { name: 'OpenAI non-stream body', tail: openaiBody, usage: { promptTokens: 12, completionTokens: 34 } },
  { name: 'OpenAI non-stream tail cut mid-body', tail: openaiBody.slice(openaiBody.indexOf('"usage"') - 10), usage: { promptTokens: 12, completionTokens: 34 } },
  { name: 'pretty-printed body', tail: JSON.stringify(JSON.parse(openaiBody), null, 2), usage: { promptTokens: 12, completionTokens: 34 } },
  { name: 'OpenAI SSE tail with the usage chunk', tail: openaiStream, usage: { promptTokens: 9, completionTokens: 2 } },
  { name: 'SSE with cumulative usage on every chunk', tail: cumulativeStream, usage: { promptTokens: 9, completionTokens: 3 } },
  { name: 'embeddings (prompt only)', tail: JSON.stringify({ object: 'list', data: [], usage: { prompt_tokens: 8, total_tokens: 8 } }), usage: { promptTokens: 8, completionTokens: null } },
  { name: 'Anthropic body (cache counts ignored)', tail: anthropicBody, usage: { promptTokens: 21, completionTokens: 8 } },
  { name: 'Anthropic stream', tail: anthropicStream, usage: { promptTokens: 30, completionTokens: 15 } },
  { name: 'Anthropic stream tail without message_start', tail: anthropicStream.slice(anthropicStream.indexOf('event: message_delta')), usage: { promptTokens: null, completionTokens: 15 } },
  { name: 'SSE without usage', tail: sse([{ choices: [{ delta: { content: 'x' } }], usage: null }]), usage: null },
  { name: 'only total_tokens', tail: '{"usage":{"total_tokens":5}}', usage: null },
  { name: 'token counts quoted inside content', tail: JSON.stringify({ choices: [{ message: { content: '"prompt_tokens": 99, "completion_tokens": 98' } }] }), usage: null },
  { name: 'empty tail', tail: '', usage: null },
  { name: 'non-JSON tail', tail: '<html>Bad Gateway</html>', usage: null },
]

describe('usageFromText', () => {
  for (const c of cases) {
    it(`${c.name} → ${JSON.stringify(c.usage)}`, () => {
      expect(usageFromText(c.tail)).toEqual(c.usage)
    })
  }

  it('is stateless across calls (global regexes are reset)', () => {
    expect(usageFromText(openaiBody)).toEqual({ promptTokens: 12, completionTokens: 34 })
    expect(usageFromText(openaiBody)).toEqual({ promptTokens: 12, completionTokens: 34 })
    expect(usageFromText(anthropicBody)).toEqual({ promptTokens: 21, completionTokens: 8 })
  })
})

describe('mergeUsage', () => {
  it('takes the tail and fills what it lacks from the head (Anthropic streams)', () => {
    expect(mergeUsage({ promptTokens: 8, completionTokens: 1 }, { promptTokens: null, completionTokens: 15 })).toEqual({ promptTokens: 8, completionTokens: 15 })
    expect(mergeUsage(null, { promptTokens: 3, completionTokens: 4 })).toEqual({ promptTokens: 3, completionTokens: 4 })
    expect(mergeUsage({ promptTokens: 3, completionTokens: null }, null)).toEqual({ promptTokens: 3, completionTokens: null })
    expect(mergeUsage(null, null)).toBeNull()
  })
})

describe('usageFromText on hostile text', () => {
  it('ignores a count too large for an integer', () => {
    expect(usageFromText(`{"prompt_tokens":${'9'.repeat(400)},"completion_tokens":2}`)).toEqual({ promptTokens: null, completionTokens: 2 })
  })
})
