import type { Dispatcher } from 'undici'
import type { HealthFailure } from './breaker-port.js'

/** A small HTTP exchange a health check makes: what it sends, and where. */
export interface CheckRequest {
  readonly dispatcher: Dispatcher
  readonly origin: string
  readonly method: 'GET' | 'POST'
  readonly path: string
  readonly headers: readonly string[]
  readonly body: Buffer | null
}

export interface CheckResponse {
  readonly status: number
  /** The body, or null when it was longer than the limit (the rest was discarded). */
  readonly body: Buffer | null
}

/**
 * One exchange, the response body read up to `limit` bytes. Whatever happens the body is
 * consumed or destroyed, so the socket goes back to the pool (or is closed) rather than
 * leaking with an unread response on it. Transport errors and aborts reject.
 */
export async function exchange(req: CheckRequest, signal: AbortSignal, limit: number): Promise<CheckResponse> {
  const headers = [...req.headers]
  if (req.body !== null && !hasHeader(headers, 'content-type')) headers.push('content-type', 'application/json')
  const res = await req.dispatcher.request({
    origin: req.origin,
    path: req.path,
    method: req.method,
    headers,
    body: req.body,
    signal,
  })
  const chunks: Buffer[] = []
  let size = 0
  try {
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      size += chunk.length
      if (size > limit) {
        res.body.destroy()
        return { status: res.statusCode, body: null }
      }
      chunks.push(chunk)
    }
  } catch (err) {
    res.body.destroy()
    throw err
  }
  return { status: res.statusCode, body: Buffer.concat(chunks, size) }
}

function hasHeader(flat: readonly string[], name: string): boolean {
  for (let i = 0; i < flat.length; i += 2) if ((flat[i] as string).toLowerCase() === name) return true
  return false
}

const failureByCode: Record<string, HealthFailure> = {
  UND_ERR_CONNECT_TIMEOUT: 'connect',
  ECONNREFUSED: 'connect',
  ENOTFOUND: 'connect',
  EAI_AGAIN: 'connect',
  EHOSTUNREACH: 'connect',
  ENETUNREACH: 'connect',
  UND_ERR_HEADERS_TIMEOUT: 'timeout',
  UND_ERR_BODY_TIMEOUT: 'timeout',
  UND_ERR_RES_CONTENT_LENGTH_MISMATCH: 'invalid',
  UND_ERR_INFO: 'invalid',
}

/** A transport error as a breaker failure; anything unrecognised is a reset. */
export function transportFailure(err: unknown): HealthFailure {
  const code = (err as { code?: unknown } | null)?.code
  if (typeof code === 'string') {
    const kind = failureByCode[code]
    if (kind !== undefined) return kind
    if (code.startsWith('HPE_')) return 'invalid'
  }
  return 'reset'
}
