import { textRequest } from './openai-text.js'
import { messagesText } from '../generate/prompt.js'
import type { TokenSequence } from '../generate/text.js'
import { Problem } from '../dialects/problem.js'
import { readMaxTokens, readMessages, readModel, usageJson } from './fields.js'
import { checkOpenAiChat } from './strict.js'
import { argumentPieces, plannedToolCall } from '../generate/tool-call.js'
import { isRecord } from '../generate/prompt.js'
import type { EndpointParser, ResponseMeta, StreamEncoder } from './types.js'

/** POST /v1/chat/completions and Azure's deployments/{d}/chat/completions. */
export const parseChat: EndpointParser = (body, route, runtime) => {
  const strict = checkOpenAiChat(body)
  if (strict !== null) return strict
  const model = route.deployment ?? readModel(body)
  if (model instanceof Problem) return model
  const messages = readMessages(body)
  if (messages instanceof Problem) return messages
  const maxTokens = readMaxTokens(body, ['max_completion_tokens', 'max_tokens'])
  if (maxTokens instanceof Problem) return maxTokens
  const last: unknown = messages[messages.length - 1]
  const choice = body.tool_choice
  const forced = isRecord(choice) && isRecord(choice.function) && typeof choice.function.name === 'string' ? choice.function.name : null
  const call = plannedToolCall(body.tools, forced, choice === 'none', isRecord(last) && last.role === 'tool')
  const text = textRequest(body, model, messagesText(messages), maxTokens, runtime, chatJson, chatStream)
  if (call === null) return text
  const pieces = argumentPieces(call.args)
  const promptTokens = text.tokenCost - (maxTokens ?? runtime.completionTokens)
  const includeUsage = text.stream && isRecord(body.stream_options) && body.stream_options.include_usage === true
  return {
    ...text,
    completionTokens: pieces.length,
    render: (meta) => toolCallJson(meta, call.name, call.args, promptTokens, pieces.length),
    encoder: (meta) => toolCallStream(meta, call.name, pieces, promptTokens, includeUsage),
  }
}

function toolCallJson(meta: ResponseMeta, name: string, args: string, promptTokens: number, completionTokens: number): string {
  return JSON.stringify({
    id: `chatcmpl-sim${meta.id}`,
    object: 'chat.completion',
    created: meta.created,
    model: meta.model,
    choices: [{ index: 0, message: { role: 'assistant', content: null, refusal: null, tool_calls: [{ id: `call_sim${meta.id}`, type: 'function', function: { name, arguments: args } }] }, logprobs: null, finish_reason: 'tool_calls' }],
    usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
  })
}

/** One tool call: its id and name first, then the arguments a few characters per chunk. */
function toolCallStream(meta: ResponseMeta, name: string, pieces: readonly string[], promptTokens: number, includeUsage: boolean): StreamEncoder {
  const head = `{"id":"chatcmpl-sim${meta.id}","object":"chat.completion.chunk","created":${meta.created},"model":${JSON.stringify(meta.model)},"choices":[{"index":0,"delta":`
  const tail = ',"logprobs":null,"finish_reason":null}]}\n\n'
  let next = 0
  return {
    preamble: () => [
      `data: ${head}{"role":"assistant","content":null}${tail}`,
      `data: ${head}{"tool_calls":[{"index":0,"id":"call_sim${meta.id}","type":"function","function":{"name":${JSON.stringify(name)},"arguments":""}}]}${tail}`,
    ],
    token: () => `data: ${head}{"tool_calls":[{"index":0,"function":{"arguments":${JSON.stringify(pieces[next++] ?? '')}}}]}${tail}`,
    epilogue() {
      const events = [`data: ${head}{},"logprobs":null,"finish_reason":"tool_calls"}]}\n\n`]
      if (includeUsage) events.push(`data: {"id":"chatcmpl-sim${meta.id}","object":"chat.completion.chunk","created":${meta.created},"model":${JSON.stringify(meta.model)},"choices":[],"usage":${usageJson(promptTokens, pieces.length)}}\n\n`)
      events.push('data: [DONE]\n\n')
      return events
    },
  }
}

function chatJson(meta: ResponseMeta, tokens: TokenSequence, promptTokens: number, finishReason: string): string {
  return JSON.stringify({
    id: `chatcmpl-sim${meta.id}`,
    object: 'chat.completion',
    created: meta.created,
    model: meta.model,
    choices: [{
      index: 0,
      message: { role: 'assistant', content: tokens.joined(), refusal: null, annotations: [] },
      logprobs: null,
      finish_reason: finishReason,
    }],
    usage: { prompt_tokens: promptTokens, completion_tokens: tokens.count, total_tokens: promptTokens + tokens.count },
    system_fingerprint: 'fp_sim',
  })
}

function chatStream(meta: ResponseMeta, count: number, promptTokens: number, finishReason: string, includeUsage: boolean): StreamEncoder {
  // Built once per response: each token event is then two concatenations.
  const head = `{"id":"chatcmpl-sim${meta.id}","object":"chat.completion.chunk","created":${meta.created},"model":${JSON.stringify(meta.model)},"system_fingerprint":"fp_sim","choices":[{"index":0,"delta":`
  // With include_usage, OpenAI puts "usage":null on every chunk and sends usage in a last chunk with no choices.
  const tail = `,"logprobs":null,"finish_reason":null}]${includeUsage ? ',"usage":null' : ''}}\n\n`
  return {
    preamble: () => [`data: ${head}{"role":"assistant","content":"","refusal":null}${tail}`],
    token: (tokenJson) => `data: ${head}{"content":${tokenJson}}${tail}`,
    epilogue() {
      const events = [`data: ${head}{},"logprobs":null,"finish_reason":"${finishReason}"}]${includeUsage ? ',"usage":null' : ''}}\n\n`]
      if (includeUsage) {
        events.push(`data: {"id":"chatcmpl-sim${meta.id}","object":"chat.completion.chunk","created":${meta.created},"model":${JSON.stringify(meta.model)},"system_fingerprint":"fp_sim","choices":[],"usage":${usageJson(promptTokens, count)}}\n\n`)
      }
      events.push('data: [DONE]\n\n')
      return events
    },
  }
}
