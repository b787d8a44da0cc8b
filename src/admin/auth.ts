import { createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'
import { SluiceError } from '../errors.js'

const bearer = /^Bearer\s+(\S+)\s*$/i

/** Who is calling the admin API: the role, and the key's public id for the log (never the key). */
export interface AdminIdentity {
  readonly role: 'admin' | 'read'
  readonly keyId: string
  /** SHA-256 of the key, for a dashboard session to re-check against the live config. */
  readonly digest: Buffer
}

/**
 * The role of the bearer token among the admin keys: 'admin' or 'read', else a refusal — 401
 * with no token, 403 with a wrong one.
 */
export function adminRole(headers: IncomingHttpHeaders, keys: readonly string[], readOnlyKeys: readonly string[]): AdminIdentity | SluiceError {
  const raw = headers.authorization
  const m = typeof raw === 'string' ? bearer.exec(raw) : null
  if (!m) return new SluiceError('missing_admin_key')
  return roleOfDigest(digestOf(m[1] as string), keys, readOnlyKeys)
}

/**
 * Keys are compared as SHA-256 digests in constant time, so neither the length nor a prefix
 * of a configured key leaks through response timing.
 */
export function roleOfDigest(given: Buffer, keys: readonly string[], readOnlyKeys: readonly string[]): AdminIdentity | SluiceError {
  let admin = false
  let read = false
  // Every configured key is compared, so the time taken does not say which one matched.
  for (const key of keys) if (timingSafeEqual(given, digestOf(key))) admin = true
  for (const key of readOnlyKeys) if (timingSafeEqual(given, digestOf(key))) read = true
  if (!admin && !read) return new SluiceError('invalid_admin_key')
  return { role: admin ? 'admin' : 'read', keyId: adminKeyId(given), digest: given }
}

export function digestOf(value: string): Buffer {
  return createHash('sha256').update(value).digest()
}

/** The public id of an admin key: the start of its SHA-256 digest, never the key itself. */
export function adminKeyId(digest: Buffer): string {
  return `admin-${digest.toString('hex').slice(0, 12)}`
}
