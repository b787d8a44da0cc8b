import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Logger } from 'pino'
import { ClientGoneError } from '../context.js'
import { asSluiceError, SluiceError } from '../errors.js'
import { sendError, sendJson } from '../respond.js'
import { readBody } from '../stages/ingress/read-body.js'
import { adminRole, roleOfDigest, type AdminIdentity } from './auth.js'
import { csrfMatches, sameOrigin, sessionToken, type Session, type SessionStore } from '../dashboard/session.js'
import type { AdminRequest, Router } from './router.js'

export { Router } from './router.js'

const bodyLimit = 64 * 1024
const bodyTimeoutMs = 10_000

export interface AdminDeps {
  readonly router: Router
  /** The admin keys of the live config, read per request so a reload rotates them. */
  readonly keys: () => readonly string[]
  /** The read-only admin keys of the live config. */
  readonly readOnlyKeys: () => readonly string[]
  readonly logger: Logger
  /** Dashboard sessions: a session cookie stands in for the bearer key. */
  readonly sessions?: SessionStore
}

/**
 * Serves /api/admin/*: the key check comes first, so an unauthenticated caller learns nothing,
 * not even which routes exist. Answers are JSON; errors have the data plane's shape.
 */
export function createAdminHandler(deps: AdminDeps): (req: IncomingMessage, res: ServerResponse, requestId: string) => void {
  return (req, res, requestId) => void handle(deps, req, res, requestId)
}

async function handle(deps: AdminDeps, req: IncomingMessage, res: ServerResponse, requestId: string): Promise<void> {
  const method = req.method ?? 'GET'
  const url = req.url ?? '/'
  const q = url.indexOf('?')
  const path = q === -1 ? url : url.slice(0, q)
  let status = 500
  let keyId: string | null = null
  try {
    const caller = identify(deps, req, method)
    keyId = caller.keyId
    const { route, params } = deps.router.match(method, path)
    if (route.spec.role === 'admin' && caller.role !== 'admin') throw new SluiceError('read_only_admin_key', [method, path])
    let body: Promise<unknown> | null = null
    const request: AdminRequest = {
      req,
      params,
      caller,
      query: new URLSearchParams(q === -1 ? '' : url.slice(q + 1)),
      body: () => (body ??= readJson(req)),
    }
    const answer = await route.handler(request)
    status = answer.status
    if (answer.stream) return answer.stream(res)
    sendJson(res, answer.status, JSON.stringify(answer.body), { 'x-request-id': requestId, 'cache-control': 'no-store' })
  } catch (err) {
    if (err instanceof ClientGoneError) {
      status = 499
      return
    }
    const e = asSluiceError(err, requestId)
    status = e.status
    if (e.code === 'internal_error') deps.logger.error({ err: (e.cause as Error | undefined)?.message, requestId, path }, 'admin request failed')
    if (!res.headersSent) sendError(res, e, requestId)
  } finally {
    // Changes are worth a line each; reads are not. The key is logged by its id, never its value.
    if (method !== 'GET') deps.logger.info({ requestId, method, path, status, adminKey: keyId }, 'admin')
  }
}

/**
 * A bearer key, else a dashboard session cookie. A session is checked against the live keys on
 * every request (a key removed from the config ends its sessions), and a change made through
 * one must carry the session's CSRF token and come from a page of this origin.
 */
function identify(deps: AdminDeps, req: IncomingMessage, method: string): AdminIdentity & { session: Session | null } {
  const token = deps.sessions && req.headers.authorization === undefined ? sessionToken(req.headers) : null
  if (token === null || !deps.sessions) {
    const bearer = adminRole(req.headers, deps.keys(), deps.readOnlyKeys())
    if (bearer instanceof SluiceError) throw bearer
    return { ...bearer, session: null }
  }
  const session = deps.sessions.get(token)
  if (session === null) throw new SluiceError('dashboard_session_expired')
  const identity = roleOfDigest(session.keyDigest, deps.keys(), deps.readOnlyKeys())
  if (identity instanceof SluiceError) {
    deps.sessions.close(token)
    throw new SluiceError('dashboard_session_expired')
  }
  if (method !== 'GET' && method !== 'HEAD') {
    if (!sameOrigin(req.headers)) throw new SluiceError('csrf_check_failed', ['the request came from a page of another origin'])
    if (!csrfMatches(session, req.headers['x-csrf-token'])) throw new SluiceError('csrf_check_failed', ['the x-csrf-token header is missing or wrong'])
  }
  return { ...identity, session }
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const raw = await readBody(req, bodyLimit, bodyTimeoutMs)
  if (raw.length === 0) return {}
  try {
    return JSON.parse(raw.toString('utf8')) as unknown
  } catch (err) {
    throw new SluiceError('invalid_json', [(err as Error).message])
  }
}
