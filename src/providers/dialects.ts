import type { Dialect, Endpoint, ProviderSettings } from './types.js'

// Base URLs include the API version segment (".../v1"), the way every OpenAI-compatible
// SDK expects them, so a path is the base path plus the operation.
const openaiPaths: Record<Endpoint, string | null> = {
  chat: '/chat/completions',
  completions: '/completions',
  embeddings: '/embeddings',
  messages: null,
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

const azurePaths: Record<Endpoint, string | null> = { ...openaiPaths }

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

// Anthropic serves its own Messages API and an OpenAI-compatible chat endpoint.
const anthropicPaths: Record<Endpoint, string | null> = {
  chat: '/chat/completions',
  completions: null,
  embeddings: null,
  messages: '/messages',
}

export const anthropic: Dialect = {
  type: 'anthropic',
  defaultBaseUrl: 'https://api.anthropic.com/v1',
  path: (endpoint, _model, s) => (anthropicPaths[endpoint] === null ? null : basePath(s) + anthropicPaths[endpoint]),
  passthroughPath: (below, s) => basePath(s) + below,
  authHeaders: (secret, s) => ({ 'x-api-key': secret, 'anthropic-version': s.anthropicVersion }),
}

export const dialects: Record<Dialect['type'], Dialect> = { openai, azure, anthropic }
