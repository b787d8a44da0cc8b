import { invalidRequest, Problem } from '../dialects/problem.js'
import { contentText, estimateTokens, isRecord, messagesText } from '../generate/prompt.js'
import { argumentPieces, plannedToolCall } from '../generate/tool-call.js'
import { fnv1a, type TokenSequence } from '../generate/text.js'
import { readMaxTokens, readMessages, readModel } from './fields.js'
import { checkAnthropicMessages } from './strict.js'
import type { EndpointParser, ResponseMeta, StreamEncoder } from './types.js'

/** POST /v1/messages. Anthropic requires max_tokens, and the simulated model always runs to it. */
export const parseMessages: EndpointParser = (body) => {
  const strict = checkAnthropicMessages(body)
  if (strict !== null) return strict
  const model = readModel(body)
  if (model instanceof Problem) return model
  const messages = readMessages(body)
  if (messages instanceof Problem) return messages
  const maxTokens = readMaxTokens(body, ['max_tokens'])
  if (maxTokens instanceof Problem) return maxTokens
  if (maxTokens === undefined) return invalidRequest('max_tokens: Field required', 'max_tokens')
  const prompt = contentText(body.system) + messagesText(messages)
  const inputTokens = estimateTokens(prompt)
  const last: unknown = messages[messages.length - 1]
  const choice = body.tool_choice
  const answersToolResult = isRecord(last) && Array.isArray(last.content) && last.content.some((b: unknown) => isRecord(b) && b.type === 'tool_result')
  const call = plannedToolCall(body.tools, isRecord(choice) && choice.type === 'tool' && typeof choice.name === 'string' ? choice.name : null, isRecord(choice) && choice.type === 'none', answersToolResult)
  if (call !== null) {
    const pieces = argumentPieces(call.args)
    return {
      model,
      stream: body.stream === true,
      tokenCost: inputTokens + maxTokens,
      completionTokens: pieces.length,
      seed: fnv1a(`${model}\n${prompt}`),
      render: (meta) => toolUseJson(meta, call.name, call.args, inputTokens, pieces.length),
      encoder: (meta) => toolUseStream(meta, call.name, pieces, inputTokens),
    }
  }
  return {
    model,
    stream: body.stream === true,
    tokenCost: inputTokens + maxTokens,
    completionTokens: maxTokens,
    seed: fnv1a(`${model}\n${prompt}`),
    render: (meta, tokens) => messageJson(meta, tokens, inputTokens),
    encoder: (meta, tokens) => messageStream(meta, tokens.count, inputTokens),
  }
}

function messageJson(meta: ResponseMeta, tokens: TokenSequence, inputTokens: number): string {
  return JSON.stringify({
    id: `msg_sim${meta.id}`,
    type: 'message',
    role: 'assistant',
    model: meta.model,
    content: [{ type: 'text', text: tokens.joined() }],
    stop_reason: 'max_tokens',
    stop_sequence: null,
    usage: { input_tokens: inputTokens, output_tokens: tokens.count },
  })
}

const event = (name: string, data: string): string => `event: ${name}\ndata: ${data}\n\n`

function toolUseJson(meta: ResponseMeta, name: string, args: string, inputTokens: number, outputTokens: number): string {
  return JSON.stringify({
    id: `msg_sim${meta.id}`, type: 'message', role: 'assistant', model: meta.model,
    content: [{ type: 'tool_use', id: `toolu_sim${meta.id}`, name, input: JSON.parse(args) as unknown }],
    stop_reason: 'tool_use', stop_sequence: null, usage: { input_tokens: inputTokens, output_tokens: outputTokens },
  })
}

/** A tool_use block: its id and name first, then input_json_delta pieces. */
function toolUseStream(meta: ResponseMeta, name: string, pieces: readonly string[], inputTokens: number): StreamEncoder {
  let next = 0
  return {
    preamble: () => [
      event('message_start', JSON.stringify({ type: 'message_start', message: { id: `msg_sim${meta.id}`, type: 'message', role: 'assistant', model: meta.model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: inputTokens, output_tokens: 1 } } })),
      event('content_block_start', JSON.stringify({ type: 'content_block_start', index: 0, content_block: { type: 'tool_use', id: `toolu_sim${meta.id}`, name, input: {} } })),
    ],
    token: () => event('content_block_delta', JSON.stringify({ type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: pieces[next++] ?? '' } })),
    epilogue: () => [
      event('content_block_stop', '{"type":"content_block_stop","index":0}'),
      event('message_delta', `{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":${pieces.length}}}`),
      event('message_stop', '{"type":"message_stop"}'),
    ],
  }
}

/** Anthropic's named SSE events, in the order its API sends them. */
function messageStream(meta: ResponseMeta, count: number, inputTokens: number): StreamEncoder {
  return {
    preamble: () => [
      event('message_start', JSON.stringify({
        type: 'message_start',
        message: {
          id: `msg_sim${meta.id}`, type: 'message', role: 'assistant', model: meta.model, content: [],
          stop_reason: null, stop_sequence: null, usage: { input_tokens: inputTokens, output_tokens: 1 },
        },
      })),
      event('content_block_start', '{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}'),
      event('ping', '{"type":"ping"}'),
    ],
    token: (tokenJson) => `event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":${tokenJson}}}\n\n`,
    epilogue: () => [
      event('content_block_stop', '{"type":"content_block_stop","index":0}'),
      event('message_delta', `{"type":"message_delta","delta":{"stop_reason":"max_tokens","stop_sequence":null},"usage":{"output_tokens":${count}}}`),
      event('message_stop', '{"type":"message_stop"}'),
    ],
  }
}
