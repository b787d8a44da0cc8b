import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'

// Virtual keys: what sluice's own callers send. Shown once at creation, stored only as a hash
// and a short visible prefix.

const scheme = 'sk-sluice-'
/** Characters shown in lists and logs: the scheme and four of the secret. */
export const visiblePrefixLength = scheme.length + 4
const shape = /^sk-sluice-[A-Za-z0-9_-]{43}$/

export interface NewVirtualKey {
  /** The key itself: given to the caller once, never stored. */
  readonly secret: string
  readonly prefix: string
  readonly hash: string
}

/** 32 random bytes, base64url: 256 bits nobody can guess or enumerate. */
export function generateVirtualKey(): NewVirtualKey {
  const secret = scheme + randomBytes(32).toString('base64url')
  return { secret, prefix: secret.slice(0, visiblePrefixLength), hash: hashVirtualKey(secret) }
}

/**
 * SHA-256, hex. A slow password hash would protect low-entropy secrets against offline
 * guessing; these are 256 random bits, where no guessing can succeed, and the hash sits on
 * every request's path.
 */
export function hashVirtualKey(secret: string): string {
  return createHash('sha256').update(secret).digest('hex')
}

/** A cheap shape check before any hashing or lookup: junk and oversized headers stop here. */
export function looksLikeVirtualKey(candidate: string): boolean {
  return candidate.length === scheme.length + 43 && shape.test(candidate)
}

/** Compares two hex hashes in constant time. */
export function sameHash(a: string, b: string): boolean {
  if (a.length !== b.length) return false
  return timingSafeEqual(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))
}
