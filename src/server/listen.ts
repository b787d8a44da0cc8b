import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface ListenOptions {
  readonly host: string
  readonly port: number
  readonly keepAliveTimeoutMs: number
  /** Time to receive a whole request; 0 for none. */
  readonly requestTimeoutMs: number
}

/**
 * A node:http server with Node's defaults overridden on purpose: the request timeout bounds
 * only how long a client may take to *send* its request (a client trickling a body must not
 * hold a slot forever), and the keep-alive timeout is longer than typical load balancers' so
 * they close first.
 */
export async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void, opts: ListenOptions): Promise<{ server: Server; port: number }> {
  // sluice answers a slow body itself (408 request_timeout, in the OpenAI shape); Node's own
  // timeout stays behind it as a backstop for the header phase.
  const requestTimeout = opts.requestTimeoutMs > 0 ? opts.requestTimeoutMs + 5_000 : 0
  const headersTimeout = requestTimeout > 0 ? Math.min(30_000, requestTimeout) : 30_000
  // Node enforces both timeouts only when it sweeps its connections (every 30 s by default);
  // sweeping a few times per timeout keeps them near what is configured.
  const connectionsCheckingInterval = Math.max(250, Math.min(30_000, Math.floor(headersTimeout / 4)))
  const server = createServer({ requestTimeout, headersTimeout, connectionsCheckingInterval, keepAliveTimeout: opts.keepAliveTimeoutMs, noDelay: true }, handler)
  server.keepAliveTimeout = opts.keepAliveTimeoutMs
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  return { server, port: (server.address() as AddressInfo).port }
}
