// The error catalogue. Codes are API: clients, docs/errors.md and tests depend on them.
// Every error a client sees is built from a row here, never from a raw exception, so no
// upstream text or secret can reach a response by accident.

export interface ErrorSpec {
  readonly status: number
  readonly type: string
  readonly message: string
}

export const codes = {
  invalid_request_error: { status: 400, type: 'invalid_request_error', message: '%s' },
  invalid_json: { status: 400, type: 'invalid_request_error', message: 'Request body is not valid JSON: %s' },
  invalid_path: { status: 400, type: 'invalid_request_error', message: 'Request path is not allowed: %s' },
  invalid_header: { status: 400, type: 'invalid_request_error', message: 'Header %s is not allowed: %s' },
  unsupported_parameter: { status: 400, type: 'invalid_request_error', message: '`%s` cannot be translated to the %s API this model is served by: %s' },
  malformed_request: { status: 400, type: 'invalid_request_error', message: 'The request is not valid HTTP/1.1: %s' },
  invalid_field: { status: 400, type: 'invalid_request_error', message: 'Invalid %s: %s' },
  invalid_api_key: { status: 401, type: 'authentication_error', message: 'Invalid API key: %s' },
  missing_admin_key: { status: 401, type: 'authentication_error', message: 'The admin API needs Authorization: Bearer <admin key>' },
  invalid_admin_key: { status: 403, type: 'permission_error', message: 'This key may not use the admin API' },
  dashboard_session_expired: { status: 401, type: 'authentication_error', message: 'The dashboard session has expired or was closed: log in again' },
  csrf_check_failed: { status: 403, type: 'permission_error', message: 'Refused a dashboard action without its CSRF token or from another origin: %s' },
  read_only_admin_key: { status: 403, type: 'permission_error', message: 'This admin key is read-only: %s %s needs an admin key' },
  key_not_found: { status: 404, type: 'invalid_request_error', message: 'No upstream key has the id `%s` (ids look like provider~key)' },
  deployment_not_found: { status: 404, type: 'invalid_request_error', message: 'No deployment or key has the id `%s` (a deployment id is provider/key/model, slashes and all; a key id is provider~key)' },
  consumer_not_found: { status: 404, type: 'invalid_request_error', message: 'No consumer has the id `%s`' },
  virtual_key_not_found: { status: 404, type: 'invalid_request_error', message: 'No virtual key that is not revoked has the id or prefix `%s`' },
  session_not_found: { status: 404, type: 'invalid_request_error', message: 'The usage ledger has no request with X-Session-ID `%s`' },
  consumer_exists: { status: 409, type: 'invalid_request_error', message: 'A consumer named `%s` exists already' },
  ambiguous_key_prefix: { status: 409, type: 'invalid_request_error', message: 'Several active virtual keys start with `%s`: revoke one by its id (GET /api/admin/keys lists them)' },
  invalid_config: { status: 400, type: 'invalid_request_error', message: 'The configuration was rejected; the previous one keeps serving. %s' },
  probe_not_configured: { status: 409, type: 'invalid_request_error', message: 'Key %s has no health check: set health_check and failover.enabled on provider %s' },
  model_not_found: { status: 404, type: 'invalid_request_error', message: 'The model `%s` does not exist or is not served by this gateway' },
  not_found: { status: 404, type: 'invalid_request_error', message: 'Unknown route: %s %s' },
  method_not_allowed: { status: 405, type: 'invalid_request_error', message: 'Method %s is not allowed on %s' },
  request_timeout: { status: 408, type: 'invalid_request_error', message: 'The request did not arrive within %dms' },
  request_too_large: { status: 413, type: 'invalid_request_error', message: 'Request body exceeds the limit of %d bytes' },
  expectation_failed: { status: 417, type: 'invalid_request_error', message: 'Only Expect: 100-continue is supported' },
  rate_limit_exceeded: { status: 429, type: 'rate_limit_error', message: 'Rate limit exceeded for %s: %s' },
  budget_exceeded: { status: 429, type: 'rate_limit_error', message: 'Budget exceeded for %s: %s' },
  headers_too_large: { status: 431, type: 'invalid_request_error', message: 'The request headers are too large' },
  cors_origin_not_allowed: { status: 403, type: 'permission_error', message: 'Origin %s may not call this gateway from a browser (cors.origins)' },
  model_not_allowed: { status: 403, type: 'permission_error', message: 'Model `%s` is not allowed for your tier%s' },
  upstream_error: { status: 502, type: 'upstream_error', message: 'Upstream %s failed: %s' },
  upstream_invalid_response: { status: 502, type: 'upstream_error', message: 'Upstream %s sent an invalid response' },
  queue_full: { status: 503, type: 'overloaded_error', message: 'Queue for %s is full: %s' },
  queue_timeout: { status: 503, type: 'overloaded_error', message: 'Request for %s waited %dms in the queue without an upstream key free to take it' },
  pinned_key_unavailable: { status: 503, type: 'overloaded_error', message: 'Object %s was created with upstream key %s, which is out of service or no longer configured; only that key can serve it' },
  no_capacity: { status: 503, type: 'overloaded_error', message: 'No upstream key can serve %s now: every one is out of service' },
  shutting_down: { status: 503, type: 'overloaded_error', message: 'The gateway is shutting down; retry on another instance' },
  auth_unavailable: { status: 503, type: 'server_error', message: 'Your API key or budget could not be checked: the database cannot be reached; retry shortly' },
  upstream_timeout: { status: 504, type: 'upstream_error', message: 'Upstream %s timed out after %dms (%s)' },
  internal_error: { status: 500, type: 'server_error', message: 'Internal gateway error (request %s)' },
} as const satisfies Record<string, ErrorSpec>

export type ErrorCode = keyof typeof codes

export interface ErrorOptions {
  /** The request field or header the error is about, reported to the client as `param`. */
  readonly param?: string
  /** Seconds, sent as Retry-After. */
  readonly retryAfter?: number
  /** The methods the target accepts, sent as Allow with a 405. */
  readonly allow?: string
  readonly cause?: unknown
}

export class SluiceError extends Error {
  readonly status: number
  readonly type: string
  readonly param: string | null
  readonly retryAfter: number | undefined
  readonly allow: string | undefined

  constructor(
    readonly code: ErrorCode,
    args: readonly unknown[] = [],
    opts: ErrorOptions = {},
  ) {
    super(format(codes[code].message, args), { cause: opts.cause })
    this.name = 'SluiceError'
    this.status = codes[code].status
    this.type = codes[code].type
    this.param = opts.param ?? null
    this.retryAfter = opts.retryAfter
    this.allow = opts.allow
  }

  toJSON(): ErrorBody {
    return { error: { message: this.message, type: this.type, code: this.code, param: this.param } }
  }

  /** The same error as Anthropic's API says it: its type name for the status, the same message. */
  toAnthropicJSON(): AnthropicErrorBody {
    return { type: 'error', error: { type: anthropicErrorType(this.status), message: this.message } }
  }
}

export interface ErrorBody {
  error: { message: string; type: string; code: string | null; param: string | null }
}

export interface AnthropicErrorBody {
  type: 'error'
  error: { type: string; message: string }
}

/**
 * The error shape a client expects, by the API it called: OpenAI's for chat, completions,
 * embeddings and responses; Anthropic's for messages. The Responses API shares OpenAI's body
 * but has a stream error event of its own.
 */
export type ErrorDialect = 'openai' | 'anthropic' | 'responses'

// Anthropic names its error types by status (docs.anthropic.com, "Errors"); sluice's codes map
// onto them the same way, so a client's typed error matches the status it got.
const anthropicTypes: Readonly<Record<number, string>> = {
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

export function anthropicErrorType(status: number): string {
  return anthropicTypes[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error')
}

/** Anything thrown that is not a SluiceError is a bug; it becomes a 500 that names the request id only. */
export function asSluiceError(err: unknown, requestId: string): SluiceError {
  if (err instanceof SluiceError) return err
  return new SluiceError('internal_error', [requestId], { cause: err })
}

function format(template: string, args: readonly unknown[]): string {
  let i = 0
  return template.replace(/%[sd]/g, () => String(args[i++] ?? ''))
}
