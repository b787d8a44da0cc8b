import type { AdminIdentity } from '../admin/auth.js'
import type { AdminRequest, AdminResponse, Router } from '../admin/router.js'
import type { Timers } from '../core/clock.js'
import { SluiceError } from '../errors.js'
import { ConsumersView } from './consumers-view.js'
import { EventHub } from './events.js'
import type { History } from './history.js'
import type { LogFilter, RequestLog } from './request-log.js'
import type { SessionStore } from './session.js'

// The admin routes the dashboard needs beyond the existing ones: its session, the request log,
// the history rings and one live event stream. The stream's overview is composed from the other
// GET routes of the same table, so the page shows nothing the admin API does not expose.

const base = '/api/admin'
/** Consumers and their spend come from the database: read every this many ticks, not every one. */
const consumersEveryTicks = 5
/** Consumers in the stream: beyond this many, the page shows the first ones by name. */
const consumersShown = 100
/** The consumers panel's history: this many UTC days, today included. */
const usageDays = 14

export interface DashboardRoutesDeps {
  readonly log: RequestLog
  readonly history: History
  readonly sessions: SessionStore
  /** What /status shows (counters, queues, pacers, breakers). */
  readonly status: () => unknown
  /** Wall-clock epoch ms. */
  readonly epoch: () => number
  readonly intervalMs?: number
  readonly timers?: Timers
  readonly onError?: (err: unknown) => void
}

const logParams = {
  model: 'only this model route',
  key: 'only this upstream key id',
  consumer: 'only this consumer name',
  status: 'only this HTTP status',
  after: 'only entries with a larger seq than this',
  limit: 'at most this many (the newest), 1 to 1000; default 1000',
} as const

export function addDashboardRoutes(router: Router, deps: DashboardRoutesDeps): EventHub {
  const reader: AdminIdentity & { session: null } = { role: 'read', keyId: 'dashboard', digest: Buffer.alloc(0), session: null }
  /** One GET route of the table, called in process as a read-only caller would. */
  const read = async (path: string, query = ''): Promise<Record<string, unknown>> => {
    const { route, params } = router.match('GET', path)
    const answer = await route.handler({ params, query: new URLSearchParams(query), caller: reader, body: () => Promise.resolve({}) })
    return answer.body as Record<string, unknown>
  }

  let lastSeq = deps.log.lastSeq
  let lastSampleAt = 0
  let ticks = 0
  let consumers: unknown = null
  const consumersView = new ConsumersView(read, consumersShown, usageDays)
  let previous = { at: 0, models: new Map<string, number>(), keys: new Map<string, number>() }

  const tick = async (): Promise<unknown> => {
    const at = deps.epoch()
    const status = deps.status() as { queues?: Record<string, { by_priority: Record<string, number>; waiting: number }> }
    const dt = previous.at === 0 ? 0 : (at - previous.at) / 1000
    const rate = (now: number, before: number | undefined): number | null => (dt <= 0 || before === undefined ? null : Math.round(((now - before) / dt) * 100) / 100)
    const models: Record<string, unknown> = {}
    const modelCounts = new Map<string, number>()
    for (const [name, q] of Object.entries(status.queues ?? {})) models[name] = { queue: q.by_priority, waiting: q.waiting, requests: 0, errors: 0, rps: null, errors_by_code: {} }
    for (const [name, m] of deps.history.models) {
      modelCounts.set(name, m.requests)
      const q = (models[name] as { queue?: unknown; waiting?: number } | undefined) ?? {}
      models[name] = { queue: q.queue ?? null, waiting: q.waiting ?? 0, requests: m.requests, errors: m.errors, rps: rate(m.requests, previous.models.get(name)), errors_by_code: Object.fromEntries(m.errorsByCode) }
    }
    const deployments = ((await read(`${base}/deployments`)).data ?? []) as { key_id: string }[]
    const keyCounts = new Map<string, number>()
    const keys: Record<string, unknown> = {}
    for (const d of deployments) {
      if (keyCounts.has(d.key_id)) continue
      const live = deps.history.keyLive(d.key_id)
      const requests = live?.requests ?? 0
      keyCounts.set(d.key_id, requests)
      keys[d.key_id] = { requests, errors: live?.errors ?? 0, rps: rate(requests, previous.keys.get(d.key_id)) }
    }
    previous = { at, models: modelCounts, keys: keyCounts }
    if (ticks++ % consumersEveryTicks === 0) consumers = await consumersView.refresh()
    const log = deps.log.since(lastSeq)
    lastSeq = deps.log.lastSeq
    const latest = deps.history.latest()
    const sample = latest !== null && latest.time !== lastSampleAt ? latest : null
    if (sample !== null) lastSampleAt = sample.time
    const summary = await read(`${base}/adaptive/summary`)
    return {
      at,
      status,
      models,
      keys,
      deployments,
      adaptive: (await read(`${base}/adaptive/keys`)) as unknown,
      adjustments: summary.recent_adjustments,
      consumers,
      log,
      sample,
    }
  }
  const hub = new EventHub({ tick, intervalMs: deps.intervalMs, timers: deps.timers, onError: deps.onError })

  router.add('GET', `${base}/session`, { role: 'read', summary: 'The caller: role, admin key id, and for a dashboard session its expiry and CSRF token' }, (r) => {
    const s = r.caller.session
    return ok({ role: r.caller.role, admin_key_id: r.caller.keyId, expires_at: s ? new Date(s.expiresAt).toISOString() : null, csrf_token: s?.csrfToken ?? null })
  })

  router.add('GET', `${base}/requests`, { role: 'read', summary: 'The live request log: the last 1,000 finished requests, oldest first (ids and numbers; never bodies or keys)', query: logParams }, (r) => {
    const filter = logFilter(r)
    const after = whole(r, 'after', 0, 0, Number.MAX_SAFE_INTEGER)
    const limit = whole(r, 'limit', deps.log.capacity, 1, deps.log.capacity)
    return ok({ object: 'list', data: deps.log.since(after, filter, limit), last_seq: deps.log.lastSeq })
  })

  router.add('GET', `${base}/history`, { role: 'read', summary: 'The last hour in fixed-size rings: per model and per key, one point per interval' }, () => ok(deps.history.snapshot()))

  router.add('GET', `${base}/events`, { role: 'read', summary: 'Server-sent events: one `tick` about every second with the overview, new log entries and the newest history point' }, (r) => {
    const session = r.caller.session
    return { status: 200, body: null, stream: (res) => hub.subscribe(res, () => session === null || deps.sessions.alive(session)) }
  })
  return hub
}

function logFilter(r: AdminRequest): LogFilter {
  for (const name of r.query.keys()) {
    if (!(name in logParams)) throw new SluiceError('invalid_field', [name, `unknown query parameter (the parameters are ${Object.keys(logParams).join(', ')})`], { param: name })
  }
  const text = (name: 'model' | 'key' | 'consumer'): string | undefined => r.query.get(name) ?? undefined
  const status = r.query.get('status')
  return { model: text('model'), key: text('key'), consumer: text('consumer'), status: status === null ? undefined : whole(r, 'status', 0, 100, 599) }
}

function whole(r: AdminRequest, name: string, fallback: number, min: number, max: number): number {
  const raw = r.query.get(name)
  if (raw === null) return fallback
  const n = /^\d+$/.test(raw) ? Number(raw) : NaN
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new SluiceError('invalid_field', [name, `expected a whole number from ${min} to ${max}`], { param: name })
  return n
}

function ok(body: unknown): AdminResponse {
  return { status: 200, body }
}
