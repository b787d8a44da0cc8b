import { textRequest } from './openai-text.js'
import { messagesText } from '../generate/prompt.js'
import type { TokenSequence } from '../generate/text.js'
import { Problem } from '../dialects/problem.js'
import { readMaxTokens, readMessages, readModel, usageJson } from './fields.js'
import { checkOpenAiChat } from './strict.js'
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
  return textRequest(body, model, messagesText(messages), maxTokens, runtime, chatJson, chatStream)
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
