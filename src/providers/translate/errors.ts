import { anthropicErrorType, type AnthropicErrorBody, type ErrorBody } from '../../errors.js'
import { isObject } from './json.js'
import type { Scrub } from './types.js'

// Error bodies travel in the other dialect's shape. Only message, type, code and param are
// kept, each scrubbed; the status stays the upstream's.

/**
 * An OpenAI-shape error body as Anthropic would have said it. The type follows the status, as
 * Anthropic's own do: OpenAI reuses `invalid_request_error` for a 404, Anthropic does not.
 */
export function toAnthropicError(body: ErrorBody, status: number): AnthropicErrorBody {
  return { type: 'error', error: { type: anthropicErrorType(status), message: body.error.message } }
}

/** Anthropic's `{type:"error",error:{type,message}}` (or a stream error event's data) in OpenAI's shape. */
export function fromAnthropicError(parsed: unknown, status: number, scrub: Scrub): ErrorBody {
  const inner = isObject(parsed) && isObject(parsed.error) ? parsed.error : null
  const message = inner !== null && typeof inner.message === 'string' && inner.message !== '' ? scrub(inner.message).slice(0, 2000) : `Upstream returned HTTP ${status}`
  const rawType = inner !== null && typeof inner.type === 'string' && /^[a-z_]{1,64}$/.test(inner.type) ? inner.type : null
  return { error: { message, type: openAiTypeOf(rawType, status), code: rawType, param: null } }
}

/** OpenAI's `{error:{message,type,code,param}}` (or a stream's error data line) in Anthropic's shape. */
export function fromOpenAiError(parsed: unknown, status: number, scrub: Scrub): AnthropicErrorBody {
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
