import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Logger } from 'pino'
import { ClientGoneError } from '../context.js'
import { asSluiceError, SluiceError } from '../errors.js'
import { sendError, sendJson } from '../respond.js'
import { readBody } from '../stages/ingress/read-body.js'
import { adminRole } from './auth.js'
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
  try {
    const role = adminRole(req.headers, deps.keys(), deps.readOnlyKeys())
    if (role instanceof SluiceError) throw role
    const { route, params } = deps.router.match(method, path)
    if (route.spec.role === 'admin' && role !== 'admin') throw new SluiceError('read_only_admin_key', [method, path])
    let body: Promise<unknown> | null = null
    const request: AdminRequest = {
      req,
      params,
      query: new URLSearchParams(q === -1 ? '' : url.slice(q + 1)),
      body: () => (body ??= readJson(req)),
    }
    const answer = await route.handler(request)
    status = answer.status
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
    // Changes are worth a line each; reads are not. The Authorization header is never logged.
    if (method !== 'GET') deps.logger.info({ requestId, method, path, status }, 'admin')
  }
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
