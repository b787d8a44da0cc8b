import type { IncomingHttpHeaders } from 'node:http'
import { SluiceError } from '../../errors.js'
import { credentialHeaders } from '../../core/headers/credentials.js'

// Headers that describe one hop, or that would let a client steer where or as whom the
// upstream request goes, are never forwarded.
const neverForwarded = new Set([
  'host',
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'content-length',
  'expect',
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-forwarded-port',
  'x-real-ip',
  'x-request-id',
  // A compressed answer would hide a key it quotes from the relay's scrubber: sluice asks
  // for the bytes as they are (undici sends no Accept-Encoding of its own).
  'accept-encoding',
])

// A Connection header may name end-to-end headers to strip at the next hop; naming these
// would make sluice and the upstream disagree on where or how big the request is.
const neverHopByHop = new Set(['host', 'authorization', 'content-length', 'content-type', 'transfer-encoding', 'x-api-key', 'api-key'])

/**
 * The client's headers minus hop-by-hop, routing and credential headers, plus the key's own.
 * Refuses requests that try to smuggle a second Host or to strip end-to-end headers.
 */
export function passthroughHeaders(incoming: IncomingHttpHeaders, rawHeaders: readonly string[], keyHeaders: readonly string[], requestId: string): string[] {
  let hosts = 0
  for (let i = 0; i < rawHeaders.length; i += 2) if ((rawHeaders[i] as string).toLowerCase() === 'host') hosts++
  if (hosts > 1) throw new SluiceError('invalid_header', ['Host', 'sent more than once'], { param: 'host' })
  const named = String(incoming.connection ?? '')
    .toLowerCase()
    .split(',')
    .map((s) => s.trim())
  for (const name of named) {
    if (neverHopByHop.has(name)) throw new SluiceError('invalid_header', ['Connection', `it names the end-to-end header ${name}`], { param: 'connection' })
  }
  const out: string[] = []
  for (const name in incoming) {
    if (neverForwarded.has(name) || credentialHeaders.has(name) || named.includes(name)) continue
    const value = incoming[name]
    if (value === undefined) continue
    if (Array.isArray(value)) for (const v of value) out.push(name, v)
    else out.push(name, value)
  }
  out.push(...keyHeaders, 'x-request-id', requestId)
  return out
}
