import { textRequest } from './openai-text.js'
import type { TokenSequence } from '../generate/text.js'
import { Problem } from '../dialects/problem.js'
import { readMaxTokens, readModel, usageJson } from './fields.js'
import type { EndpointParser, ResponseMeta, StreamEncoder } from './types.js'

/** POST /v1/completions (legacy text completions) and Azure's deployments/{d}/completions. */
export const parseCompletions: EndpointParser = (body, route, runtime) => {
  const model = route.deployment ?? readModel(body)
  if (model instanceof Problem) return model
  const maxTokens = readMaxTokens(body, ['max_tokens'])
  if (maxTokens instanceof Problem) return maxTokens
  return textRequest(body, model, promptText(body.prompt), maxTokens, runtime, completionJson, completionStream)
}

function promptText(prompt: unknown): string {
  if (typeof prompt === 'string') return prompt
  if (Array.isArray(prompt) && prompt.every((p) => typeof p === 'string')) return prompt.join('\n')
  return prompt === undefined ? '' : JSON.stringify(prompt)
}

function completionJson(meta: ResponseMeta, tokens: TokenSequence, promptTokens: number, finishReason: string): string {
  return JSON.stringify({
    id: `cmpl-sim${meta.id}`,
    object: 'text_completion',
    created: meta.created,
    model: meta.model,
    choices: [{ text: tokens.joined(), index: 0, logprobs: null, finish_reason: finishReason }],
    usage: { prompt_tokens: promptTokens, completion_tokens: tokens.count, total_tokens: promptTokens + tokens.count },
  })
}

function completionStream(meta: ResponseMeta, count: number, promptTokens: number, finishReason: string, includeUsage: boolean): StreamEncoder {
  const head = `{"id":"cmpl-sim${meta.id}","object":"text_completion","created":${meta.created},"choices":[{"text":`
  const tail = `,"index":0,"logprobs":null,"finish_reason":null}],"model":${JSON.stringify(meta.model)}${includeUsage ? ',"usage":null' : ''}}\n\n`
  return {
    preamble: () => [],
    token: (tokenJson) => `data: ${head}${tokenJson}${tail}`,
    epilogue() {
      const events = [`data: ${head}"","index":0,"logprobs":null,"finish_reason":"${finishReason}"}],"model":${JSON.stringify(meta.model)}${includeUsage ? ',"usage":null' : ''}}\n\n`]
      if (includeUsage) {
        events.push(`data: {"id":"cmpl-sim${meta.id}","object":"text_completion","created":${meta.created},"choices":[],"model":${JSON.stringify(meta.model)},"usage":${usageJson(promptTokens, count)}}\n\n`)
      }
      events.push('data: [DONE]\n\n')
      return events
    },
  }
}
