import { createHash } from 'node:crypto'
import diagnostics from 'node:diagnostics_channel'
import type { IncomingMessage, Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { connect } from 'node:net'
import { Readable } from 'node:stream'
import { expect } from 'vitest'
import { request, type Dispatcher } from 'undici'
import { startStack, type Stack, type StackOptions } from './harness.js'

// Helpers for the data-plane integration tests: raw HTTP (undici, node:net) so tests see the
// exact bytes and headers the gateway sent, and logs that tell when a line arrives.

/** The harness's stack; its logs can be waited on (LogCapture.waitForAccessLog). */
export type WatchedStack = Stack
export const startWatchedStack: (opts?: StackOptions) => Promise<WatchedStack> = startStack

export interface Reply {
  readonly status: number
  readonly headers: Record<string, string>
  readonly bytes: Buffer
  readonly text: string
  json<T = Record<string, unknown>>(): T
}

export interface SendOptions {
  readonly method?: Dispatcher.HttpMethod
  readonly headers?: Record<string, string>
  /** An object is sent as JSON; a string or Buffer as it is; an async iterable chunked (no content-length). */
  readonly body?: unknown
}

/** One request with undici: the exact bytes and headers the gateway answered with. */
export async function send(baseUrl: string, path: string, opts: SendOptions = {}): Promise<Reply> {
  const body = opts.body
  const payload =
    body === undefined ? undefined : typeof body === 'string' || Buffer.isBuffer(body) ? body : isAsyncIterable(body) ? Readable.from(body) : JSON.stringify(body)
  const res = await request(`${baseUrl}${path}`, {
    method: opts.method ?? (body === undefined ? 'GET' : 'POST'),
    headers: { 'content-type': 'application/json', ...opts.headers },
    body: payload,
  })
  const bytes = Buffer.from(await res.body.arrayBuffer())
  return reply(res.statusCode, flat(res.headers), bytes)
}

function isAsyncIterable(v: unknown): v is AsyncIterable<Buffer> {
  return typeof v === 'object' && v !== null && Symbol.asyncIterator in v
}

function reply(status: number, headers: Record<string, string>, bytes: Buffer): Reply {
  const text = bytes.toString('utf8')
  return { status, headers, bytes, text, json: <T>() => JSON.parse(text) as T }
}

export function flat(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v
  return out
}

/**
 * Writes `head` (request line and headers, CRLF-separated, without the blank line) and `body`
 * on a fresh TCP socket, and reads one response: for targets and headers undici would refuse
 * or normalise (`/v1/../x`, absolute-form, `Connection: host`).
 */
export function rawRequest(port: number, head: string, body = ''): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let buf = Buffer.alloc(0)
    let done = false
    // The answer to HEAD declares a length but carries no body.
    const bodiless = head.startsWith('HEAD ')
    const finish = (): void => {
      const parsed = parseResponse(buf, bodiless)
      if (!parsed || done) return
      done = true
      socket.destroy()
      resolve(parsed)
    }
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk])
      finish()
    })
    socket.on('end', () => {
      finish()
      if (!done) reject(new Error(`connection closed before a complete response: ${JSON.stringify(buf.toString('latin1'))}`))
    })
    socket.on('error', (err) => {
      if (!done) reject(err)
    })
    socket.write(`${head}\r\n\r\n${body}`)
  })
}

/** What came back on a raw socket: the answer, or status 0 when it closed without one. */
export interface RawAnswer extends Reply {
  /** Milliseconds from the first byte written to the answer (or to the close). */
  readonly ms: number
}

/**
 * Writes `bytes` exactly as given (the last chunk of `bytes` may be written later by the
 * caller through `more`) and reads one answer, whatever its shape: a content-length response as
 * soon as it is complete, anything else when the server closes. Never rejects: a socket closed
 * without an answer is status 0, so tests can assert that it never happens.
 */
export function rawExchange(port: number, bytes: string | Buffer, more?: (write: (chunk: string | Buffer) => void) => void): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    const started = performance.now()
    let buf = Buffer.alloc(0)
    let done = false
    const settle = (answer: Reply): void => {
      if (done) return
      done = true
      socket.destroy()
      resolve({ ...answer, ms: performance.now() - started })
    }
    const parseWhole = (): Reply => {
      const end = buf.indexOf('\r\n\r\n')
      if (end === -1) return reply(0, {}, buf)
      const lines = buf.subarray(0, end).toString('latin1').split('\r\n')
      const headers: Record<string, string> = {}
      for (const line of lines.slice(1)) headers[line.slice(0, line.indexOf(':')).trim().toLowerCase()] = line.slice(line.indexOf(':') + 1).trim()
      return reply(Number((lines[0] ?? '').split(' ')[1]) || 0, headers, buf.subarray(end + 4))
    }
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk])
      // An interim answer (100 Continue) comes before the one that counts.
      while (/^HTTP\/1\.1 1\d\d /.test(buf.toString('latin1', 0, 13)) && buf.includes('\r\n\r\n')) buf = buf.subarray(buf.indexOf('\r\n\r\n') + 4)
      try {
        const parsed = parseResponse(buf)
        if (parsed) settle(parsed)
      } catch {
        // Not a content-length response: read until the server closes.
      }
    })
    socket.on('close', () => settle(parseWhole()))
    socket.on('error', () => undefined)
    socket.write(bytes)
    more?.((chunk) => {
      if (!socket.destroyed) socket.write(chunk)
    })
  })
}

/** A complete response with a content-length body, or null while bytes are missing. */
function parseResponse(buf: Buffer, bodiless = false): Reply | null {
  const end = buf.indexOf('\r\n\r\n')
  if (end === -1) return null
  const lines = buf.subarray(0, end).toString('latin1').split('\r\n')
  const status = Number((lines[0] ?? '').split(' ')[1])
  const headers: Record<string, string> = {}
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':')
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
  }
  const length = Number(headers['content-length'] ?? NaN)
  if (!Number.isInteger(length)) throw new Error(`expected a content-length response, got ${lines.join(' | ')}`)
  const body = buf.subarray(end + 4)
  if (bodiless) return reply(status, headers, Buffer.alloc(0))
  if (body.length < length) return null
  return reply(status, headers, body.subarray(0, length))
}

/** The `data:` payloads of an SSE body, in order. */
export function sseData(text: string): string[] {
  return text
    .split('\n\n')
    .filter((e) => e.trim() !== '')
    .map((e) => {
      const line = e.split('\n').find((l) => l.startsWith('data: '))
      return line === undefined ? '' : line.slice('data: '.length)
    })
}

/** The `event:` names of an SSE body (Anthropic), in order. */
export function sseEventNames(text: string): string[] {
  return text
    .split('\n\n')
    .filter((e) => e.trim() !== '')
    .map((e) => (e.split('\n').find((l) => l.startsWith('event: ')) ?? '').slice('event: '.length))
}

export const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex')

/** Asserts the one error shape clients get: exactly error.{message,type,code,param}. */
export function expectErrorBody(body: unknown, code: string, param: string | null = null): { message: string; type: string; code: string; param: string | null } {
  expect(body).toBeTypeOf('object')
  const outer = body as Record<string, unknown>
  expect(Object.keys(outer)).toEqual(['error'])
  const error = outer.error as Record<string, unknown>
  expect(Object.keys(error).sort()).toEqual(['code', 'message', 'param', 'type'])
  expect(error.message).toBeTypeOf('string')
  expect(error.type).toBeTypeOf('string')
  expect(error.code).toBe(code)
  expect(error.param).toBe(param)
  return error as { message: string; type: string; code: string; param: string | null }
}

/**
 * Resolves with the IncomingMessage of the next request to `path` on the node:http server
 * listening on `port` (node:http's diagnostics channel; unsubscribed then): at once when it
 * starts, or once its body has been read (`until: 'end'`). Lets a test act exactly when a server
 * has a request, without polling.
 */
export function nextServerRequest(port: number, path: string, until: 'start' | 'end' = 'end'): Promise<IncomingMessage> {
  return new Promise((resolve) => {
    const onStart = (message: unknown): void => {
      const { request: req, server } = message as { request: IncomingMessage; server: Server }
      if ((server.address() as AddressInfo | null)?.port !== port || !(req.url ?? '').startsWith(path)) return
      diagnostics.unsubscribe('http.server.request.start', onStart)
      // 'end' without a 'data' listener does not switch the stream to flowing mode.
      if (until === 'end') req.once('end', () => resolve(req))
      else resolve(req)
    }
    diagnostics.subscribe('http.server.request.start', onStart)
  })
}

/** GET /status on the gateway. */
export async function gatewayStatus(gatewayUrl: string): Promise<{ requests: { in_flight: number; total: number; by_outcome: Record<string, number> } }> {
  const res = await send(gatewayUrl, '/status')
  expect(res.status).toBe(200)
  return res.json()
}
