import type { IncomingMessage, ServerResponse } from 'node:http'
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
