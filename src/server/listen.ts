import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { ErrorCode } from '../errors.js'
import { answerProtocolErrors } from './protocol-errors.js'

export interface ListenOptions {
  readonly host: string
  readonly port: number
  readonly keepAliveTimeoutMs: number
  /** Time to receive a request's headers, and then its body; 0 for none. */
  readonly requestTimeoutMs: number
  /** Told the code of every request refused before the handler (malformed, too slow, CONNECT …), for the metrics. */
  readonly onProtocolError?: (code: ErrorCode) => void
}

/**
 * A node:http server with Node's defaults overridden on purpose: the request timeout bounds
 * how long a client may take to *send* its request (a client trickling its headers or its body
 * must not hold a connection for long), and the keep-alive timeout is longer than typical load
 * balancers' so they close first. What node:http refuses itself is answered in the OpenAI
 * error shape (protocol-errors.ts).
 */
export async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void, opts: ListenOptions): Promise<{ server: Server; port: number }> {
  // The headers must arrive within request_timeout: node:http cuts them (408 from the
  // clientError handler). A slow body is sluice's to answer (ingress: 408 request_timeout,
  // access-logged), request_timeout after the headers; node:http's whole-request timeout stays
  // a little behind it as a backstop for bodies nobody reads.
  const timeout = opts.requestTimeoutMs
  const headersTimeout = timeout > 0 ? timeout : 60_000
  const requestTimeout = timeout > 0 ? timeout * 2 + 1_000 : 0
  // Node enforces both only when it sweeps its connections (every 30 s by default); sweeping
  // ten times per timeout (at most once a second) keeps the cut within 10 % of what is set.
  const connectionsCheckingInterval = Math.max(50, Math.min(1_000, Math.floor(headersTimeout / 10)))
  // node:http answers an HTTP/1.1 request without Host with a bare 400; the handler refuses it
  // itself, in the OpenAI shape.
  const server = createServer({ requestTimeout, headersTimeout, connectionsCheckingInterval, keepAliveTimeout: opts.keepAliveTimeoutMs, noDelay: true, requireHostHeader: false }, handler)
  server.keepAliveTimeout = opts.keepAliveTimeoutMs
  answerProtocolErrors(server, { requestTimeoutMs: headersTimeout, onAnswered: opts.onProtocolError })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  return { server, port: (server.address() as AddressInfo).port }
}
