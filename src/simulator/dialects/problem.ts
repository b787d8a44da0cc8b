import type { Outcome } from '../record/stats.js'

/**
 * An error answer before any body byte, described once and rendered by each dialect in its own
 * shape (OpenAI `{error:{message,type,param,code}}`, Anthropic `{type:'error',error:{type,message}}`).
 */
export class Problem {
  constructor(
    readonly status: number,
    readonly message: string,
    readonly openaiType: string,
    readonly openaiCode: string | null,
    readonly anthropicType: string,
    readonly param: string | null = null,
    /** How the stats count it; plain errors by default. */
    readonly outcome: Outcome = 'error',
  ) {}
}

export const invalidRequest = (message: string, param: string | null = null): Problem =>
  new Problem(400, message, 'invalid_request_error', null, 'invalid_request_error', param)

export const missingKey = (header: string): Problem =>
  new Problem(401, `You didn't provide an API key. Send it in the ${header} header.`, 'invalid_request_error', null, 'authentication_error')

export const invalidKey = (keyId: string): Problem =>
  new Problem(401, `Incorrect API key provided: ${keyId}.`, 'invalid_request_error', 'invalid_api_key', 'authentication_error')

export const notFound = (method: string, path: string): Problem =>
  new Problem(404, `Invalid URL (${method} ${path})`, 'invalid_request_error', null, 'not_found_error')

export const modelNotFound = (model: string): Problem =>
  new Problem(404, `The model '${model}' does not exist`, 'invalid_request_error', 'model_not_found', 'not_found_error', 'model')

export const methodNotAllowed = (method: string, path: string): Problem =>
  new Problem(405, `Method ${method} is not allowed on ${path}`, 'invalid_request_error', null, 'invalid_request_error')

export const bodyTooLarge = (): Problem =>
  new Problem(413, 'Request body too large', 'invalid_request_error', null, 'request_too_large')

// Anthropic has no such type; the spec asks for the same word in every dialect so a gateway can recognise it.
export const quotaExhausted = (): Problem =>
  new Problem(429, 'You exceeded your current quota, please check your plan and billing details.', 'insufficient_quota', 'insufficient_quota', 'insufficient_quota', null, 'quota')

export function rateLimited(kind: 'rpm' | 'tpm' | 'concurrent', message: string): Problem {
  // OpenAI names the exhausted dimension in `type`; a concurrency refusal shares the requests shape.
  return new Problem(429, message, kind === 'tpm' ? 'tokens' : 'requests', 'rate_limit_exceeded', 'rate_limit_error', null, kind)
}

const INJECTED_MESSAGES: Readonly<Record<number, string>> = {
  500: 'The server had an error while processing your request. Sorry about that!',
  502: 'Bad gateway.',
  503: 'The server is overloaded or not ready yet.',
  529: 'Overloaded',
}

/** An error the config or a script asked for. */
export function injected(status: number): Problem {
  return new Problem(
    status,
    INJECTED_MESSAGES[status] ?? `Simulated error ${status}`,
    status >= 500 ? 'server_error' : 'invalid_request_error',
    null,
    anthropicTypeFor(status),
  )
}

/** The key exactly as received, in the message: the gateway must scrub it before a client sees it. */
export function echoKey(status: number, key: string): Problem {
  return new Problem(status, `Incorrect API key provided: ${key}. You can find your API key in your account settings.`, 'invalid_request_error', 'invalid_api_key', anthropicTypeFor(status))
}

function anthropicTypeFor(status: number): string {
  switch (status) {
    case 400: return 'invalid_request_error'
    case 401: return 'authentication_error'
    case 403: return 'permission_error'
    case 404: return 'not_found_error'
    case 413: return 'request_too_large'
    case 429: return 'rate_limit_error'
    case 503:
    case 529: return 'overloaded_error'
    default: return 'api_error'
  }
}
