import type { Endpoint } from '../http/routes.js'
import { parseCountTokens } from './anthropic-count-tokens.js'
import { parseMessages } from './anthropic-messages.js'
import { parseResponseObject, parseResponses } from './openai-responses.js'
import type { ResponseStore } from './response-store.js'
import { parseChat } from './openai-chat.js'
import { parseCompletions } from './openai-completions.js'
import { parseEmbeddings } from './openai-embeddings.js'
import { parseModel, parseModelList } from './openai-models.js'
import type { EndpointParser } from './types.js'

/** The parser of each endpoint; the Responses API's need the simulator's store of responses. */
export function endpointParsers(responses: ResponseStore): Readonly<Record<Endpoint, EndpointParser>> {
  const objects = parseResponseObject(responses)
  return {
    chat: parseChat,
    completions: parseCompletions,
    embeddings: parseEmbeddings,
    models: parseModelList,
    model: parseModel,
    messages: parseMessages,
    count_tokens: parseCountTokens,
    responses: parseResponses(responses),
    response: objects,
    response_cancel: objects,
    response_input_items: objects,
  }
}

export { ResponseStore } from './response-store.js'
export type { ParsedRequest, ResponseMeta, StreamEncoder } from './types.js'
