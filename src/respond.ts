import type { ServerResponse } from 'node:http'
import type { SluiceError } from './errors.js'

// The only places that write sluice's own answers, so every error has one shape.

export function sendJson(res: ServerResponse, status: number, body: string, extraHeaders?: Record<string, string>): void {
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    ...extraHeaders,
  })
  res.end(body)
}

export function sendError(res: ServerResponse, err: SluiceError, requestId: string): void {
  if (res.headersSent) {
    // Too late for a status. A stream opened early (kept alive while queued) can still carry
    // the error as its last event; anything else is cut so the client sees it is incomplete.
    if (!res.writableEnded && String(res.getHeader('content-type') ?? '').includes('text/event-stream')) res.end(sseErrorEvent(err))
    else res.destroy()
    return
  }
  const headers: Record<string, string> = { 'x-request-id': requestId }
  if (err.retryAfter !== undefined) headers['retry-after'] = String(Math.max(1, Math.ceil(err.retryAfter)))
  if (err.allow !== undefined) headers.allow = err.allow
  sendJson(res, err.status, JSON.stringify(err.toJSON()), headers)
}

/** The event that ends a stream that broke after it started: one error object, and no [DONE]. */
export function sseErrorEvent(err: SluiceError): string {
  return `data: ${JSON.stringify(err.toJSON())}\n\n`
}
