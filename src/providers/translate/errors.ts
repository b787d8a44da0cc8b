import type { ErrorBody } from '../../errors.js'
import { isObject, type JsonObject } from './json.js'
import type { Scrub } from './types.js'

// Error bodies travel in the other dialect's shape. Only message, type, code and param are
// kept, each scrubbed; the status stays the upstream's.

const anthropicTypesByStatus: Readonly<Record<number, string>> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  503: 'overloaded_error',
  504: 'timeout_error',
  529: 'overloaded_error',
}

const anthropicTypes = new Set(Object.values(anthropicTypesByStatus))

/** Anthropic's error type for a status, as its API names them. */
export function anthropicErrorType(status: number): string {
  return anthropicTypesByStatus[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error')
}

/** An OpenAI-shape error body as Anthropic would have said it: its own type when it has one, else by status. */
export function toAnthropicError(body: ErrorBody, status: number): JsonObject {
  const type = anthropicTypes.has(body.error.type) ? body.error.type : anthropicErrorType(status)
  return { type: 'error', error: { type, message: body.error.message } }
}

/** Anthropic's `{type:"error",error:{type,message}}` (or a stream error event's data) in OpenAI's shape. */
export function fromAnthropicError(parsed: unknown, status: number, scrub: Scrub): ErrorBody {
  const inner = isObject(parsed) && isObject(parsed.error) ? parsed.error : null
  const message = inner !== null && typeof inner.message === 'string' && inner.message !== '' ? scrub(inner.message).slice(0, 2000) : `Upstream returned HTTP ${status}`
  const rawType = inner !== null && typeof inner.type === 'string' && /^[a-z_]{1,64}$/.test(inner.type) ? inner.type : null
  return { error: { message, type: openAiTypeOf(rawType, status), code: rawType, param: null } }
}

/** OpenAI's `{error:{message,type,code,param}}` (or a stream's error data line) in Anthropic's shape. */
export function fromOpenAiError(parsed: unknown, status: number, scrub: Scrub): JsonObject {
  const inner = isObject(parsed) && isObject(parsed.error) ? parsed.error : null
  const message = inner !== null && typeof inner.message === 'string' && inner.message !== '' ? scrub(inner.message).slice(0, 2000) : `Upstream returned HTTP ${status}`
  return { type: 'error', error: { type: anthropicErrorType(status), message } }
}

function openAiTypeOf(anthropicType: string | null, status: number): string {
  switch (anthropicType) {
    case 'rate_limit_error':
      return 'rate_limit_error'
    case 'authentication_error':
      return 'authentication_error'
    case 'permission_error':
      return 'permission_error'
    case 'overloaded_error':
    case 'api_error':
    case 'timeout_error':
      return 'server_error'
    default:
      return status >= 500 ? 'server_error' : 'invalid_request_error'
  }
}
