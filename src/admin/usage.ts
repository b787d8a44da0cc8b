import { SluiceError } from '../errors.js'
import { maxUsagePage, type ConsumerStore, type SessionSummary, type UsageFilter, type UsageRecord, type UsageStore, type UsageTotals } from '../store/types.js'
import { iso, ok, parseInstant } from './consumers.js'
import type { AdminRequest, Router } from './router.js'

// The usage ledger as the admin API shows it: one record per request, snake_case, instants in
// ISO 8601. Records reach the database about a second after their request ends.

const base = '/api/admin'
const page = { default: 100, max: 1000 } as const

export interface UsageDeps {
  readonly usage: UsageStore
  /** To accept a consumer's name where its id is expected. */
  readonly consumers: ConsumerStore
}

export const filterParams = {
  consumer: 'a consumer id (or name); records stay after their consumer is deleted, under its id',
  model: 'the model name the client sent',
  from: 'from this instant, inclusive: ISO 8601 (2030-01-31T00:00:00Z) or epoch ms',
  to: 'until this instant, exclusive: ISO 8601 or epoch ms',
  limit: `page size, 1 to ${page.max}; default ${page.default}`,
  offset: 'records to skip; default 0',
} as const

export function addUsageRoutes(router: Router, deps: UsageDeps): void {
  const query = async (r: AdminRequest): Promise<{ filter: UsageFilter; limit: number; offset: number }> => {
    const q = r.query
    for (const name of q.keys()) {
      if (!(name in filterParams)) throw new SluiceError('invalid_field', [name, `unknown query parameter (the parameters are ${Object.keys(filterParams).join(', ')})`], { param: name })
    }
    const filter: { -readonly [K in keyof UsageFilter]: UsageFilter[K] } = {}
    const consumer = single(r, 'consumer')
    if (consumer !== null) filter.consumerId = (await deps.consumers.getByName(consumer))?.id ?? consumer
    const model = single(r, 'model')
    if (model !== null) filter.model = model
    const from = single(r, 'from')
    if (from !== null) filter.from = parseInstant(from, 'from')
    const to = single(r, 'to')
    if (to !== null) filter.to = parseInstant(to, 'to')
    if (filter.from !== undefined && filter.to !== undefined && filter.from > filter.to) {
      throw new SluiceError('invalid_field', ['to', '`to` is before `from`'], { param: 'to' })
    }
    return { filter, limit: count(r, 'limit', page.default, 1, page.max), offset: count(r, 'offset', 0, 0, Number.MAX_SAFE_INTEGER) }
  }

  router.add('GET', `${base}/usage`, { role: 'read', summary: 'Usage records, newest first, with totals over everything that matches', query: filterParams }, async (r) => {
    const { filter, limit, offset } = await query(r)
    const { records, totals } = await deps.usage.query({ ...filter, limit, offset })
    return ok({ records: records.map(describeRecord), totals: describeTotals(totals), limit, offset, has_more: offset + records.length < totals.requests })
  })

  router.add('GET', `${base}/sessions`, { role: 'read', summary: 'Sessions (X-Session-ID) with a request in the range, most recently active first', query: filterParams }, async (r) => {
    const { filter, limit, offset } = await query(r)
    const sessions = await deps.usage.sessions({ ...filter, limit, offset })
    return ok({ object: 'list', data: sessions.map(describeSession), limit, offset })
  })

  router.add('GET', `${base}/sessions/{id}`, { role: 'read', summary: 'One session\'s requests, oldest first, with totals' }, async (r) => {
    const id = r.params.id as string
    const records = await deps.usage.session(id, maxUsagePage)
    if (records.length === 0) throw new SluiceError('session_not_found', [id])
    const totals = { requests: records.length, promptTokens: 0, completionTokens: 0, costUsd: 0 }
    for (const rec of records) {
      totals.promptTokens += rec.promptTokens ?? 0
      totals.completionTokens += rec.completionTokens ?? 0
      totals.costUsd += rec.costUsd
    }
    return ok({
      session_id: id,
      records: records.map(describeRecord),
      totals: describeTotals(totals),
      // The store returns at most maxUsagePage records of one session; the totals are theirs.
      truncated: records.length === maxUsagePage,
    })
  })
}

export function single(r: AdminRequest, name: string): string | null {
  const values = r.query.getAll(name)
  if (values.length > 1) throw new SluiceError('invalid_field', [name, 'given more than once'], { param: name })
  const value = values[0]
  if (value === undefined) return null
  if (value === '') throw new SluiceError('invalid_field', [name, 'empty'], { param: name })
  return value
}

export function count(r: AdminRequest, name: string, def: number, min: number, max: number): number {
  const raw = single(r, name)
  if (raw === null) return def
  const n = /^\d{1,16}$/.test(raw) ? Number(raw) : NaN
  if (!(n >= min && n <= max)) throw new SluiceError('invalid_field', [name, `expected a whole number from ${min} to ${max}`], { param: name })
  return n
}

function describeRecord(r: UsageRecord) {
  return {
    at: iso(r.at),
    request_id: r.requestId,
    consumer_id: r.consumerId,
    key_prefix: r.keyPrefix,
    session_id: r.sessionId,
    model: r.model,
    deployment: r.deployment,
    status: r.status,
    outcome: r.outcome,
    priority: r.priority,
    prompt_tokens: r.promptTokens,
    completion_tokens: r.completionTokens,
    cost_usd: r.costUsd,
    queue_ms: r.queueMs,
    latency_ms: r.latencyMs,
    partial: r.partial,
  }
}

export function describeTotals(t: UsageTotals) {
  return { requests: t.requests, prompt_tokens: t.promptTokens, completion_tokens: t.completionTokens, cost_usd: t.costUsd }
}

function describeSession(s: SessionSummary) {
  return { session_id: s.sessionId, first_at: iso(s.firstAt), last_at: iso(s.lastAt), ...describeTotals(s) }
}

