import type { Endpoint } from '../http/routes.js'
import { parseMessages } from './anthropic-messages.js'
import { parseChat } from './openai-chat.js'
import { parseCompletions } from './openai-completions.js'
import { parseEmbeddings } from './openai-embeddings.js'
import { parseModel, parseModelList } from './openai-models.js'
import type { EndpointParser } from './types.js'

export const endpointParsers: Readonly<Record<Endpoint, EndpointParser>> = {
  chat: parseChat,
  completions: parseCompletions,
  embeddings: parseEmbeddings,
  models: parseModelList,
  model: parseModel,
  messages: parseMessages,
}

export type { ParsedRequest, ResponseMeta, StreamEncoder } from './types.js'
