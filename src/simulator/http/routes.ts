export type DialectName = 'openai' | 'azure' | 'anthropic'
export type Endpoint = 'chat' | 'completions' | 'embeddings' | 'models' | 'model' | 'messages' | 'count_tokens' | 'responses' | 'response' | 'response_cancel' | 'response_input_items'

export interface Route {
  readonly dialect: DialectName
  readonly endpoint: Endpoint
  readonly method: 'GET' | 'POST' | 'DELETE'
  /** Azure's deployment, which is the model the response names. */
  readonly deployment?: string
  /** GET /v1/models/{id}: ids may contain slashes (meta/llama-3.1-70b-instruct). */
  readonly modelId?: string
  /** /v1/responses/{id}…: the stored response's id. */
  readonly objectId?: string
}

const EXACT = new Map<string, Route>([
  ['/v1/chat/completions', { dialect: 'openai', endpoint: 'chat', method: 'POST' }],
  ['/v1/completions', { dialect: 'openai', endpoint: 'completions', method: 'POST' }],
  ['/v1/embeddings', { dialect: 'openai', endpoint: 'embeddings', method: 'POST' }],
  ['/v1/models', { dialect: 'openai', endpoint: 'models', method: 'GET' }],
  ['/v1/messages', { dialect: 'anthropic', endpoint: 'messages', method: 'POST' }],
  ['/v1/messages/count_tokens', { dialect: 'anthropic', endpoint: 'count_tokens', method: 'POST' }],
  ['/v1/responses', { dialect: 'openai', endpoint: 'responses', method: 'POST' }],
])
const RESPONSE_PREFIX = '/v1/responses/'
const RESPONSE_OBJECT = /^([A-Za-z0-9_-]+)(?:\/(cancel|input_items))?$/

const AZURE_PREFIX = '/openai/deployments/'
const AZURE_OPERATIONS: ReadonlyMap<string, Endpoint> = new Map([
  ['chat/completions', 'chat'],
  ['completions', 'completions'],
  ['embeddings', 'embeddings'],
])
const MODEL_PREFIX = '/v1/models/'

export function matchRoute(path: string, method = 'GET'): Route | undefined {
  const exact = EXACT.get(path)
  if (exact !== undefined) return exact
  if (path.startsWith(RESPONSE_PREFIX)) {
    const m = RESPONSE_OBJECT.exec(path.slice(RESPONSE_PREFIX.length))
    if (m === null) return undefined
    const objectId = m[1] as string
    if (m[2] === 'cancel') return { dialect: 'openai', endpoint: 'response_cancel', method: 'POST', objectId }
    if (m[2] === 'input_items') return { dialect: 'openai', endpoint: 'response_input_items', method: 'GET', objectId }
    return { dialect: 'openai', endpoint: 'response', method: method === 'DELETE' ? 'DELETE' : 'GET', objectId }
  }
  if (path.startsWith(MODEL_PREFIX) && path.length > MODEL_PREFIX.length) {
    return { dialect: 'openai', endpoint: 'model', method: 'GET', modelId: safeDecode(path.slice(MODEL_PREFIX.length)) }
  }
  if (path.startsWith(AZURE_PREFIX)) {
    const rest = path.slice(AZURE_PREFIX.length)
    const slash = rest.indexOf('/')
    const endpoint = slash > 0 ? AZURE_OPERATIONS.get(rest.slice(slash + 1)) : undefined
    if (endpoint !== undefined) return { dialect: 'azure', endpoint, method: 'POST', deployment: safeDecode(rest.slice(0, slash)) }
  }
  return undefined
}

/** Which dialect's error shape an unknown path gets. */
export function dialectForPath(path: string): DialectName {
  if (path.startsWith('/v1/messages')) return 'anthropic'
  return path.startsWith('/openai/') ? 'azure' : 'openai'
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s)
  } catch {
    return s
  }
}
