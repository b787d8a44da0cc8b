// The page talks to this server only: the admin API with the session cookie, and the login.

export interface Session {
  readonly role: 'admin' | 'read'
  readonly admin_key_id: string
  readonly expires_at: string | null
  readonly csrf_token: string | null
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

let csrfToken: string | null = null

export function setCsrf(token: string | null): void {
  csrfToken = token
}

async function parse<T>(res: Response): Promise<T> {
  const text = await res.text()
  const body = text ? (JSON.parse(text) as unknown) : null
  if (!res.ok) {
    const err = (body as { error?: { code?: string; message?: string } } | null)?.error
    throw new ApiError(res.status, err?.code ?? 'error', err?.message ?? `HTTP ${res.status}`)
  }
  return body as T
}

export async function get<T>(path: string): Promise<T> {
  return parse<T>(await fetch(path, { credentials: 'same-origin', headers: { accept: 'application/json' } }))
}

/** A change through the admin API: the session's CSRF token goes with it. */
export async function send<T>(method: 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json', 'x-csrf-token': csrfToken ?? '' }
  if (body !== undefined) headers['content-type'] = 'application/json'
  return parse<T>(await fetch(path, { method, credentials: 'same-origin', headers, body: body === undefined ? undefined : JSON.stringify(body) }))
}

export async function login(key: string): Promise<Session> {
  return parse<Session>(await fetch('/dashboard/session', { method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key }) }))
}

export async function logout(): Promise<void> {
  await fetch('/dashboard/session', { method: 'DELETE', credentials: 'same-origin' })
}

export const enc = encodeURIComponent
