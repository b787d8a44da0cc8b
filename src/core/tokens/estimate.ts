import type { Endpoint } from '../../providers/types.js'

/** Bytes of JSON per token, roughly; an overestimate of prompt tokens is the safe side for pacing. */
const bytesPerToken = 4

export interface TokenEstimate {
  readonly input: number
  readonly output: number
}

/** Prompt tokens, from the body's size. */
export function estimatePromptTokens(bodyBytes: number): number {
  return Math.max(1, Math.ceil(bodyBytes / bytesPerToken))
}

/**
 * Tokens a request is charged at dispatch: its prompt, estimated from the body size, plus the
 * output it may produce (its own max_tokens, or the configured reserve). Settled from `usage`.
 */
export function estimateTokens(endpoint: Endpoint, bodyBytes: number, json: Record<string, unknown>, outputReserve: number): TokenEstimate {
  const input = estimatePromptTokens(bodyBytes)
  if (endpoint === 'embeddings' || endpoint === 'count_tokens') return { input, output: 0 }
  const max = json.max_completion_tokens ?? json.max_tokens ?? json.max_output_tokens
  const output = typeof max === 'number' && Number.isFinite(max) && max >= 0 ? Math.min(max, 1_000_000) : outputReserve
  return { input, output }
}
