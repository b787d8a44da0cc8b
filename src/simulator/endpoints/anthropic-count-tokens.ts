import { Problem } from '../dialects/problem.js'
import { contentText, estimateTokens, messagesText } from '../generate/prompt.js'
import { readMessages, readModel } from './fields.js'
import { checkAnthropicMessages, countTokensFields } from './strict.js'
import type { EndpointParser } from './types.js'

/** POST /v1/messages/count_tokens: the prompt's size by the simulator's own estimate, nothing generated. */
export const parseCountTokens: EndpointParser = (body) => {
  const strict = checkAnthropicMessages(body, countTokensFields)
  if (strict !== null) return strict
  const model = readModel(body)
  if (model instanceof Problem) return model
  const messages = readMessages(body)
  if (messages instanceof Problem) return messages
  const inputTokens = estimateTokens(contentText(body.system) + messagesText(messages))
  const json = `{"input_tokens":${inputTokens}}`
  return { model, stream: false, tokenCost: 0, completionTokens: 0, seed: 0, render: () => json, encoder: () => null }
}
