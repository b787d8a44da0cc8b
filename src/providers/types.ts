/** The data-plane operations sluice manages; anything else under /v1 is passthrough. */
export type Endpoint = 'chat' | 'completions' | 'embeddings' | 'messages'

export const endpoints: readonly Endpoint[] = ['chat', 'completions', 'embeddings', 'messages']

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
