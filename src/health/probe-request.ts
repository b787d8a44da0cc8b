export type ProbeDialect = 'openai' | 'azure' | 'anthropic'

/** What a probe sends and what it costs the key's token pacer. */
export interface ProbeRequest {
  readonly body: Buffer
  /** Charged to the pacer at dispatch: the prompt estimated as the scheduler does (4 bytes a token) plus the one output token. */
  readonly tokens: number
}

const bytesPerToken = 4
const messages = [{ role: 'user', content: 'ping' }]

/**
 * The body of a one-token chat request in the provider's dialect: the cheapest real request
 * that proves a key, its model and the upstream all work. Azure names the model by the
 * deployment in the URL, so its body carries none; Anthropic's messages API requires
 * max_tokens, and it is 1 everywhere so a probe costs one output token. Built once per
 * config generation by the caller, which also supplies the path and the headers.
 */
export function probeRequest(kind: ProbeDialect, model: string): ProbeRequest {
  const json = kind === 'azure'
    ? { messages, max_tokens: 1 }
    : { model, messages, max_tokens: 1 }
  const body = Buffer.from(JSON.stringify(json))
  return { body, tokens: Math.ceil(body.length / bytesPerToken) + 1 }
}
