import type { IncomingMessage, ServerResponse } from 'node:http'
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
  if (err.allow !== undefined) headers.allow = err.allow
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

/**
 * Closes the connection after the answer to a request whose body has not all arrived (a 413,
 * a refusal before the body was read), the way nginx's lingering close does. node:http
 * destroys the socket as soon as the answer is written; a client still sending its body then
 * gets a reset from the kernel, which throws away the answer it had not read yet (undici and
 * the openai client saw EPIPE instead of the 413 in about half the tries). So the answer goes
 * out with Connection: close, and the rest of the body is read and discarded until it ends,
 * or `maxBytes` more arrive, or `maxMs` pass; only then is the socket closed.
 */
export function closeAfterAnswer(req: IncomingMessage, res: ServerResponse, maxBytes: number, maxMs: number): void {
  res.shouldKeepAlive = false
  const socket = req.socket
  res.once('finish', () => {
    // node:http's own 'finish' listener ran first and called socket.destroySoon(), which ends
    // the write side and destroys the socket once that is flushed; keep the read side open.
    socket.removeListener('finish', socket.destroy)
    if (req.complete || socket.destroyed) return socket.destroySoon()
    let received = 0
    const close = (): void => {
      clearTimeout(timer)
      req.off('data', count)
      req.off('end', close)
      socket.off('close', close)
      socket.destroy()
    }
    const count = (chunk: Buffer): void => {
      received += chunk.length
      if (received > maxBytes) close()
    }
    const timer = setTimeout(close, maxMs)
    timer.unref()
    req.on('data', count)
    req.once('end', close)
    socket.once('close', close)
    req.resume()
  })
}
