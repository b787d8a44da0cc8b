import { randomBytes, timingSafeEqual } from 'node:crypto'
import { adminKeyId } from '../admin/auth.js'
import type { IncomingHttpHeaders } from 'node:http'

// Dashboard sessions: an admin key is exchanged once for a random session token carried in an
// HttpOnly, SameSite=Strict cookie, so the page's script never holds the key. The store keeps
// the key's SHA-256 digest, not the key: a session dies when its key leaves the config.

export const sessionCookie = 'sluice_session'

export interface Session {
  /** SHA-256 of the admin key it was opened with. */
  readonly keyDigest: Buffer
  /** The admin key's public id (a fingerprint), for logs. */
  readonly keyId: string
  /** Sent back by the page on every change (header x-csrf-token). */
  readonly csrfToken: string
  /** Epoch ms. */
  readonly expiresAt: number
}

export class SessionStore {
  readonly #sessions = new Map<string, Session>()

  constructor(
    private readonly ttlMs: () => number,
    private readonly now: () => number = Date.now,
  ) {}

  open(keyDigest: Buffer): { token: string; session: Session } {
    this.#prune()
    const token = randomBytes(32).toString('base64url')
    const session: Session = { keyDigest, keyId: adminKeyId(keyDigest), csrfToken: randomBytes(24).toString('base64url'), expiresAt: this.now() + this.ttlMs() }
    this.#sessions.set(token, session)
    return { token, session }
  }

  /** The live session of this token; an expired one is forgotten. */
  get(token: string): Session | null {
    const s = this.#sessions.get(token)
    if (!s) return null
    if (s.expiresAt <= this.now()) {
      this.#sessions.delete(token)
      return null
    }
    return s
  }

  /** Whether the session is still open (the SSE stream asks every tick). */
  alive(session: Session): boolean {
    return session.expiresAt > this.now()
  }

  close(token: string): void {
    this.#sessions.delete(token)
  }

  get size(): number {
    return this.#sessions.size
  }

  #prune(): void {
    const now = this.now()
    for (const [t, s] of this.#sessions) if (s.expiresAt <= now) this.#sessions.delete(t)
  }
}

/** The session token of the request's cookie header, if any. */
export function sessionToken(headers: IncomingHttpHeaders): string | null {
  const raw = headers.cookie
  if (typeof raw !== 'string') return null
  for (const part of raw.split(';')) {
    const eq = part.indexOf('=')
    if (eq !== -1 && part.slice(0, eq).trim() === sessionCookie) return part.slice(eq + 1).trim() || null
  }
  return null
}

/** Constant-time comparison of the CSRF header with the session's token. */
export function csrfMatches(session: Session, given: string | string[] | undefined): boolean {
  if (typeof given !== 'string') return false
  const a = Buffer.from(given)
  const b = Buffer.from(session.csrfToken)
  return a.length === b.length && timingSafeEqual(a, b)
}

/**
 * Whether a browser's Origin (or, lacking one, Referer) names this server. A request without
 * either is not from a page, and the CSRF token decides alone.
 */
export function sameOrigin(headers: IncomingHttpHeaders): boolean {
  const host = headers.host
  const origin = typeof headers.origin === 'string' ? headers.origin : typeof headers.referer === 'string' ? headers.referer : null
  if (origin === null) return true
  if (origin === 'null' || typeof host !== 'string') return false
  try {
    return new URL(origin).host === host
  } catch {
    return false
  }
}
