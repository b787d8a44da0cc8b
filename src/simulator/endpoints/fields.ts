import { invalidRequest, type Problem } from '../dialects/problem.js'

/** Reads the first present max-tokens field; a positive integer or absent. */
export function readMaxTokens(body: Record<string, unknown>, fields: readonly string[]): number | undefined | Problem {
  for (const field of fields) {
    const value = body[field]
    if (value === undefined || value === null) continue
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
      return invalidRequest(`Invalid '${field}': expected an integer greater than or equal to 1.`, field)
    }
    return value
  }
  return undefined
}

export function readModel(body: Record<string, unknown>): string | Problem {
  const model = body.model
  if (typeof model === 'string' && model !== '') return model
  return invalidRequest('you must provide a model parameter', 'model')
}

export function readMessages(body: Record<string, unknown>): unknown[] | Problem {
  const messages = body.messages
  if (Array.isArray(messages) && messages.length > 0) return messages
  return invalidRequest("'messages' must be a non-empty array", 'messages')
}

export function usageJson(promptTokens: number, completionTokens: number): string {
  return `{"prompt_tokens":${promptTokens},"completion_tokens":${completionTokens},"total_tokens":${promptTokens + completionTokens}}`
}
