import type { ServerResponse } from 'node:http'
import type { ErrorBody, ErrorDialect, SluiceError } from './errors.js'
import { toAnthropicError } from './providers/translate/errors.js'

// The only places that write sluice's own answers, so every error has one shape per dialect.

export function sendJson(res: ServerResponse, status: number, body: string, extraHeaders?: Record<string, string>): void {
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    ...extraHeaders,
  })
  res.end(body)
}

export function sendError(res: ServerResponse, err: SluiceError, requestId: string, dialect: ErrorDialect = 'openai'): void {
  if (res.headersSent) {
    // Too late for a status. A stream opened early (kept alive while queued) can still carry
    // the error as its last event; anything else is cut so the client sees it is incomplete.
    if (!res.writableEnded && String(res.getHeader('content-type') ?? '').includes('text/event-stream')) res.end(sseErrorEvent(err, dialect))
    else res.destroy()
    return
  }
  const headers = errorHeaders(requestId, dialect)
  if (err.retryAfter !== undefined) headers['retry-after'] = String(Math.max(1, Math.ceil(err.retryAfter)))
  sendJson(res, err.status, JSON.stringify(dialect === 'anthropic' ? err.toAnthropicJSON() : err.toJSON()), headers)
}

/** x-request-id always; Anthropic's clients read the id from `request-id`. */
export function errorHeaders(requestId: string, dialect: ErrorDialect): Record<string, string> {
  return dialect === 'anthropic' ? { 'x-request-id': requestId, 'request-id': requestId } : { 'x-request-id': requestId }
}

/** An error body (sluice's own, or an upstream's after scrubbing) in the client's dialect. */
export function errorJson(body: ErrorBody, status: number, dialect: ErrorDialect): string {
  return JSON.stringify(dialect === 'anthropic' ? toAnthropicError(body, status) : body)
}

/**
 * The event that ends a stream that broke after it started, in the stream's own protocol, and
 * no end marker after it: OpenAI chat's `data: {"error":…}`, Anthropic's `event: error`, the
 * Responses API's `event: error` with the error's fields at the top level.
 */
export function sseErrorEvent(err: SluiceError, dialect: ErrorDialect = 'openai'): string {
  return sseErrorFrom(err.toJSON(), err.status, dialect)
}

export function sseErrorFrom(body: ErrorBody, status: number, dialect: ErrorDialect): string {
  switch (dialect) {
    case 'anthropic':
      return `event: error\ndata: ${JSON.stringify(toAnthropicError(body, status))}\n\n`
    case 'responses':
      return `event: error\ndata: ${JSON.stringify({ type: 'error', code: body.error.code, message: body.error.message, param: body.error.param })}\n\n`
    default:
      return `data: ${JSON.stringify(body)}\n\n`
  }
}
