import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Logger } from 'pino'
import { digestOf, roleOfDigest } from '../admin/auth.js'
import type { Router } from '../admin/router.js'
import type { RequestContext } from '../context.js'
import { SluiceError, asSluiceError } from '../errors.js'
import { sendError, sendJson } from '../respond.js'
import type { Metrics } from '../telemetry/metrics.js'
import type { Timers } from '../core/clock.js'
import { readBody } from '../stages/ingress/read-body.js'
import { contentSecurityPolicy, loadAssets, type Asset } from './assets.js'
import { LoginGuard } from './login-guard.js'
import type { EventHub } from './events.js'
import { History, type GaugeReader } from './history.js'
import { RequestLog } from './request-log.js'
import { addDashboardRoutes } from './routes.js'
import { sameOrigin, sessionCookie, sessionToken, SessionStore } from './session.js'

export { History, type GaugeReader } from './history.js'
export { dashboardGauges } from './gauges.js'
export { RequestLog } from './request-log.js'
export { SessionStore } from './session.js'

// The web dashboard: the page and its two files under /dashboard, the login that turns an admin
// key into a session cookie, and what the admin API gains for it (see routes.ts).

const securityHeaders = {
  'content-security-policy': contentSecurityPolicy,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
} as const

export interface DashboardDeps {
  readonly router: Router
  readonly keys: () => readonly string[]
  readonly readOnlyKeys: () => readonly string[]
  readonly sessionTtlMs: () => number
  readonly logger: Logger
  /** What /status shows. */
  readonly status: () => unknown
  readonly gauges: GaugeReader
  readonly metrics: Metrics
  /** Wall-clock epoch ms (sessions, log times, history). */
  readonly epoch?: () => number
  /** Where the built files are; tests may point elsewhere. */
  readonly assets?: ReadonlyMap<string, Asset> | null
  readonly tickMs?: number
  /** The gateway's timers (a test's fake time moves the history sampler and the event ticks too). */
  readonly timers?: Timers
}

export interface Dashboard {
  readonly sessions: SessionStore
  readonly log: RequestLog
  readonly history: History
  readonly events: EventHub
  /** One call per finished request: into the log ring and the history counters. */
  record(ctx: RequestContext): void
  /** Serves /dashboard and /dashboard/*. */
  handle(req: IncomingMessage, res: ServerResponse, requestId: string): void
  close(): void
}

export function createDashboard(deps: DashboardDeps): Dashboard {
  const epoch = deps.epoch ?? Date.now
  const sessions = new SessionStore(deps.sessionTtlMs, epoch)
  const log = new RequestLog()
  const history = new History()
  history.start(deps.gauges, epoch, deps.timers)
  const events = addDashboardRoutes(deps.router, {
    log,
    history,
    sessions,
    status: deps.status,
    epoch,
    intervalMs: deps.tickMs,
    timers: deps.timers,
    onError: (err) => deps.logger.warn({ err: (err as Error).message }, 'dashboard event tick failed'),
  })
  deps.metrics.dashboardViewers.read = () => [[[], events.watchers]]
  const guard = new LoginGuard(epoch)
  const assets = deps.assets === undefined ? loadAssets() : deps.assets

  const handle = (req: IncomingMessage, res: ServerResponse, requestId: string): void => {
    const url = req.url ?? '/'
    const q = url.indexOf('?')
    const path = q === -1 ? url : url.slice(0, q)
    if (path === '/dashboard/session') {
      void session(req, res, requestId).catch((err: unknown) => {
        if (!res.headersSent) sendError(res, asSluiceError(err, requestId), requestId)
      })
      return
    }
    const name = path === '/dashboard' || path === '/dashboard/' ? '' : path.slice('/dashboard/'.length)
    const asset = assets?.get(name)
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendError(res, new SluiceError('method_not_allowed', [req.method, path]), requestId)
    if (assets === null || assets === undefined) {
      return sendError(res, new SluiceError('not_found', [req.method, `${path} (the dashboard was not built: run npm run build)`]), requestId)
    }
    if (!asset) return sendError(res, new SluiceError('not_found', [req.method, path]), requestId)
    serveAsset(req, res, asset)
  }

  /** POST logs in with {"key": "<admin key>"}; DELETE logs out. */
  async function session(req: IncomingMessage, res: ServerResponse, requestId: string): Promise<void> {
    const secure = 'encrypted' in req.socket && req.socket.encrypted === true ? '; Secure' : ''
    if (req.method === 'DELETE') {
      const token = sessionToken(req.headers)
      if (token !== null) sessions.close(token)
      return sendJson(res, 200, '{"ok":true}', { ...securityHeaders, 'set-cookie': `${sessionCookie}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0${secure}`, 'cache-control': 'no-store' })
    }
    if (req.method !== 'POST') throw new SluiceError('method_not_allowed', [req.method, '/dashboard/session'])
    // A cross-site form cannot send JSON without a preflight this server never grants.
    if (!sameOrigin(req.headers) || !String(req.headers['content-type'] ?? '').startsWith('application/json')) {
      throw new SluiceError('csrf_check_failed', ['log in from the dashboard page, with a JSON body'])
    }
    const address = req.socket.remoteAddress ?? 'unknown'
    const wait = guard.retryAfter(address)
    if (wait > 0) throw new SluiceError('rate_limit_exceeded', ['dashboard logins', 'too many wrong keys from this address; try again later'], { retryAfter: wait })
    const raw = await readBody(req, 4096, 10_000)
    let key: unknown
    try {
      key = (JSON.parse(raw.toString('utf8')) as { key?: unknown }).key
    } catch {
      throw new SluiceError('invalid_json', ['expected {"key": "<admin key>"}'])
    }
    if (typeof key !== 'string' || key.length === 0) throw new SluiceError('invalid_field', ['key', 'expected the admin key as a string'], { param: 'key' })
    const identity = roleOfDigest(digestOf(key.trim()), deps.keys(), deps.readOnlyKeys())
    if (identity instanceof SluiceError) {
      guard.failed(address)
      deps.logger.info({ requestId }, 'dashboard login refused')
      throw identity
    }
    const { token, session } = sessions.open(identity.digest)
    deps.logger.info({ requestId, adminKey: identity.keyId, role: identity.role }, 'dashboard login')
    // Rounded, not floored: the session was opened a moment ago, and 7199.998 s is the 2 h asked for.
    const maxAge = Math.max(1, Math.round((session.expiresAt - epoch()) / 1000))
    const body = JSON.stringify({ role: identity.role, admin_key_id: identity.keyId, expires_at: new Date(session.expiresAt).toISOString(), csrf_token: session.csrfToken })
    sendJson(res, 200, body, {
      ...securityHeaders,
      'cache-control': 'no-store',
      'set-cookie': `${sessionCookie}=${token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAge}${secure}`,
    })
  }

  return {
    sessions,
    log,
    history,
    events,
    record(ctx) {
      const ended = performance.now()
      log.record(ctx, epoch(), ended)
      history.record(ctx, ended)
    },
    handle,
    close() {
      history.stop()
      events.close()
    },
  }
}

function serveAsset(req: IncomingMessage, res: ServerResponse, asset: Asset): void {
  const headers: Record<string, string> = { ...securityHeaders, 'content-type': asset.type, etag: asset.etag, 'cache-control': 'no-cache', vary: 'accept-encoding' }
  if (req.headers['if-none-match'] === asset.etag) {
    res.writeHead(304, headers)
    return void res.end()
  }
  const gzip = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))
  const body = gzip ? asset.gzipped : asset.body
  if (gzip) headers['content-encoding'] = 'gzip'
  headers['content-length'] = String(body.length)
  res.writeHead(200, headers)
  res.end(req.method === 'HEAD' ? undefined : body)
}
