import { createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'
import { SluiceError } from '../errors.js'

const bearer = /^Bearer\s+(\S+)\s*$/i

/**
 * Refuses a request that does not carry one of `keys` as a bearer token: 401 with none, 403
 * with a wrong one. Keys are compared as SHA-256 digests in constant time, so neither the
 * length nor a prefix of a configured key leaks through response timing.
 */
export function checkAdminKey(headers: IncomingHttpHeaders, keys: readonly string[]): SluiceError | null {
  const raw = headers.authorization
  const m = typeof raw === 'string' ? bearer.exec(raw) : null
  if (!m) return new SluiceError('missing_admin_key')
  const given = digest(m[1] as string)
  let ok = false
  // Every configured key is compared, so the time taken does not say which one matched.
  for (const key of keys) if (timingSafeEqual(given, digest(key))) ok = true
  return ok ? null : new SluiceError('invalid_admin_key')
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest()
}
