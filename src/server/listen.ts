import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface ListenOptions {
  readonly host: string
  readonly port: number
  readonly keepAliveTimeoutMs: number
}

/**
 * A node:http server with Node's defaults overridden on purpose: no request timeout (a
 * non-streaming completion can legitimately take minutes; sluice bounds upstream time itself),
 * and a keep-alive timeout longer than typical load balancers' so they close first.
 */
export async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void, opts: ListenOptions): Promise<{ server: Server; port: number }> {
  const server = createServer({ requestTimeout: 0, headersTimeout: 30_000, keepAliveTimeout: opts.keepAliveTimeoutMs, noDelay: true }, handler)
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
