import { createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'
import { SluiceError } from '../errors.js'

const bearer = /^Bearer\s+(\S+)\s*$/i

/**
 * The role of the bearer token among the admin keys: 'admin' or 'read', else a refusal — 401
 * with no token, 403 with a wrong one. Keys are compared as SHA-256 digests in constant time,
 * so neither the length nor a prefix of a configured key leaks through response timing.
 */
export function adminRole(headers: IncomingHttpHeaders, keys: readonly string[], readOnlyKeys: readonly string[]): 'admin' | 'read' | SluiceError {
  const raw = headers.authorization
  const m = typeof raw === 'string' ? bearer.exec(raw) : null
  if (!m) return new SluiceError('missing_admin_key')
  const given = digest(m[1] as string)
  let admin = false
  let read = false
  // Every configured key is compared, so the time taken does not say which one matched.
  for (const key of keys) if (timingSafeEqual(given, digest(key))) admin = true
  for (const key of readOnlyKeys) if (timingSafeEqual(given, digest(key))) read = true
  return admin ? 'admin' : read ? 'read' : new SluiceError('invalid_admin_key')
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest()
}
