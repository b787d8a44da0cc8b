import type { Dialect, Endpoint, ProviderSettings } from './types.js'

// Base URLs include the API version segment (".../v1"), the way every OpenAI-compatible
// SDK expects them, so a path is the base path plus the operation. A request in the other
// dialect goes to this dialect's own operation, translated (src/providers/translate/).
const openaiPaths: Record<Endpoint, string | null> = {
  chat: '/chat/completions',
  completions: '/completions',
  embeddings: '/embeddings',
  messages: '/chat/completions',
  responses: '/responses',
  // OpenAI has no token-counting operation: sluice answers count_tokens from its own estimate.
  count_tokens: null,
}

function basePath(settings: ProviderSettings): string {
  return settings.baseUrl.pathname.replace(/\/+$/, '')
}

export const openai: Dialect = {
  type: 'openai',
  defaultBaseUrl: 'https://api.openai.com/v1',
  path: (endpoint, _model, s) => (openaiPaths[endpoint] === null ? null : basePath(s) + openaiPaths[endpoint]),
  passthroughPath: (below, s) => basePath(s) + below,
  authHeaders: (secret) => ({ authorization: `Bearer ${secret}` }),
}

// Azure serves the Responses API outside the deployments path; not managed here yet.
const azurePaths: Record<Endpoint, string | null> = { ...openaiPaths, responses: null }

export const azure: Dialect = {
  type: 'azure',
  defaultBaseUrl: null,
  path(endpoint, model, s) {
    const op = azurePaths[endpoint]
    if (op === null) return null
    return `${basePath(s)}/openai/deployments/${encodeURIComponent(model)}${op}?api-version=${encodeURIComponent(s.apiVersion)}`
  },
  passthroughPath: (below, s) => `${basePath(s)}/openai${below}${below.includes('?') ? '&' : '?'}api-version=${encodeURIComponent(s.apiVersion)}`,
  authHeaders: (secret) => ({ 'api-key': secret }),
}

// Anthropic's OpenAI-compatible endpoint ignores much of a chat request (tools' strictness,
// response formats, its own features), so chat requests are translated to its Messages API.
const anthropicPaths: Record<Endpoint, string | null> = {
  chat: '/messages',
  completions: null,
  embeddings: null,
  messages: '/messages',
  // No translation of the Responses API to Anthropic's: a model served only by anthropic
  // providers is not served on /v1/responses.
  responses: null,
  count_tokens: '/messages/count_tokens',
}

export const anthropic: Dialect = {
  type: 'anthropic',
  defaultBaseUrl: 'https://api.anthropic.com/v1',
  path: (endpoint, _model, s) => (anthropicPaths[endpoint] === null ? null : basePath(s) + anthropicPaths[endpoint]),
  passthroughPath: (below, s) => basePath(s) + below,
  authHeaders: (secret, s) => ({ 'x-api-key': secret, 'anthropic-version': s.anthropicVersion }),
}

export const dialects: Record<Dialect['type'], Dialect> = { openai, azure, anthropic }
