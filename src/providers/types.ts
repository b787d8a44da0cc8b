import type { ErrorDialect } from '../errors.js'

/** The data-plane operations sluice manages; anything else under /v1 is passthrough. */
export type Endpoint = 'chat' | 'completions' | 'embeddings' | 'messages' | 'responses' | 'count_tokens'

export const endpoints: readonly Endpoint[] = ['chat', 'completions', 'embeddings', 'messages', 'responses', 'count_tokens']

export interface ProviderSettings {
  readonly baseUrl: URL
  readonly apiVersion: string
  readonly anthropicVersion: string
}

/**
 * A dialect is data plus two pure functions evaluated once per deployment at compile time:
 * the request path for each endpoint it serves, and the headers that carry the key.
 */
export interface Dialect {
  readonly type: 'openai' | 'azure' | 'anthropic'
  readonly defaultBaseUrl: string | null
  /** Path (and query) on the provider's origin, or null when the dialect does not serve the endpoint. */
  path(endpoint: Endpoint, upstreamModel: string, settings: ProviderSettings): string | null
  /** Path for passthrough traffic, given the client's path below /v1 (for example "/files"). */
  passthroughPath(pathBelowV1: string, settings: ProviderSettings): string
  authHeaders(secret: string, settings: ProviderSettings): Record<string, string>
}

/**
 * The dialect a client speaks, from what it called: Anthropic's clients call /v1/messages (and
 * its count_tokens and batches below it), the Responses API has its own stream events, and
 * everything else is OpenAI's.
 */
export function clientDialect(endpoint: Endpoint | 'passthrough', pathBelowV1: string): ErrorDialect {
  if (endpoint === 'messages' || endpoint === 'count_tokens') return 'anthropic'
  if (endpoint === 'responses') return 'responses'
  if (endpoint !== 'passthrough') return 'openai'
  if (pathBelowV1.startsWith('/messages')) return 'anthropic'
  if (pathBelowV1.startsWith('/responses')) return 'responses'
  return 'openai'
}
