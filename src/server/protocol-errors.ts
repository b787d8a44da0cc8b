import { randomUUID } from 'node:crypto'
import { STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import { SluiceError, type ErrorCode } from '../errors.js'
import { sendError } from '../respond.js'

export interface ProtocolErrorOptions {
  /** The configured request timeout, named in the 408's message. */
  readonly requestTimeoutMs: number
  /** Told the code of every answer given here, for the metrics. */
  readonly onAnswered?: (code: ErrorCode) => void
}

/** How long the rest of a refused request is read and discarded before the socket closes. */
const lingerMs = 5_000

// The methods passthrough forwards (see handler.ts): what a refused CONNECT is told to use.
const allow = 'GET, POST, PUT, PATCH, DELETE, OPTIONS'

/**
 * Answers, in the OpenAI error shape with a request id, what node:http refuses before a request
 * reaches the handler: a request it cannot parse (bad method, bare CR or LF, bad
 * Content-Length or Transfer-Encoding: 400), headers too large (431), headers or a request not
 * received in time (408), an Expect other than 100-continue (417) and CONNECT (405). Left to
 * node:http, these got a bare status line without a body, or (CONNECT) a closed socket.
 */
export function answerProtocolErrors(server: Server, opts: ProtocolErrorOptions): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    // Once answered, the parser keeps reporting the same error for every chunk that follows
    // while the rest of the request is read and discarded.
    if (socket.writableEnded) return
    if (err.code === 'ECONNRESET' || !socket.writable) return void socket.destroy()
    // node:http's own rule: never write into an answer already under way on this connection
    // (the error came with pipelined bytes behind a request being answered, or too late).
    if ((socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage?.headersSent === true) return void socket.destroy()
    answerRaw(socket, refusalOf(err, opts.requestTimeoutMs), opts)
  })

  server.on('connect', (req: IncomingMessage, socket: Duplex) => {
    socket.on('error', () => socket.destroy())
    answerRaw(socket, new SluiceError('method_not_allowed', ['CONNECT', req.url], { allow }), opts)
  })

  server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
    const err = new SluiceError('expectation_failed', [], { param: 'expect' })
    opts.onAnswered?.(err.code)
    res.shouldKeepAlive = false
    sendError(res, err, randomUUID())
  })
}

function refusalOf(err: NodeJS.ErrnoException, requestTimeoutMs: number): SluiceError {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return new SluiceError('headers_too_large')
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new SluiceError('request_timeout', [requestTimeoutMs])
    default:
      // llhttp's reason ("Invalid method encountered") says what was wrong; never the bytes.
      return new SluiceError('malformed_request', [readableReason(err)])
  }
}

function readableReason(err: NodeJS.ErrnoException): string {
  const reason = (err as { reason?: unknown }).reason
  return typeof reason === 'string' && /^[\w .,:'()/-]{1,120}$/.test(reason) ? `${reason} (${err.code ?? 'parse error'})` : String(err.code ?? 'parse error')
}

/** Writes a whole answer on a socket node:http no longer answers on, then closes it after a bounded linger. */
function answerRaw(socket: Duplex, err: SluiceError, opts: ProtocolErrorOptions): void {
  opts.onAnswered?.(err.code)
  const body = JSON.stringify(err.toJSON())
  const head = [
    `HTTP/1.1 ${err.status} ${STATUS_CODES[err.status] ?? ''}`,
    'content-type: application/json',
    `content-length: ${Buffer.byteLength(body)}`,
    `x-request-id: ${randomUUID()}`,
    ...(err.allow === undefined ? [] : [`allow: ${err.allow}`]),
    'connection: close',
  ]
  socket.end(`${head.join('\r\n')}\r\n\r\n${body}`)
  // Closing at once would make the kernel reset a client that is still sending, and the reset
  // can throw away the answer before the client reads it; read and discard for a while instead.
  const timer = setTimeout(() => socket.destroy(), lingerMs)
  timer.unref()
  socket.once('close', () => clearTimeout(timer))
  socket.once('end', () => socket.destroy())
  socket.resume()
}
