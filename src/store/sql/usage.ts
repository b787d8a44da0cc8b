import { dayMs, maxUsagePage, type DailyUsage, type SessionSummary, type UsageFilter, type UsageQuery, type UsageRecord, type UsageStore, type UsageTotals } from '../types.js'
import type { InsertTable, Sql } from './sql.js'
import { flag, int, isFlagSet, num, numOrNull, real, text, textOrNull } from './values.js'

interface UsageDbRow {
  at: number | string
  request_id: string
  consumer_id: string | null
  key_prefix: string | null
  session_id: string | null
  model: string | null
  deployment: string | null
  status: number | string
  outcome: string
  prompt_tokens: number | string | null
  completion_tokens: number | string | null
  cost_usd: number | string
  queue_ms: number | string
  latency_ms: number | string
  partial: number | string
  priority: string | null
}

const table: InsertTable = {
  name: 'usage_records',
  columns: [
    { name: 'at', pgType: 'bigint' },
    { name: 'request_id', pgType: 'text' },
    { name: 'consumer_id', pgType: 'text' },
    { name: 'key_prefix', pgType: 'text' },
    { name: 'session_id', pgType: 'text' },
    { name: 'model', pgType: 'text' },
    { name: 'deployment', pgType: 'text' },
    { name: 'status', pgType: 'integer' },
    { name: 'outcome', pgType: 'text' },
    { name: 'prompt_tokens', pgType: 'bigint' },
    { name: 'completion_tokens', pgType: 'bigint' },
    { name: 'cost_usd', pgType: 'double precision' },
    { name: 'queue_ms', pgType: 'double precision' },
    { name: 'latency_ms', pgType: 'double precision' },
    { name: 'partial', pgType: 'integer' },
    { name: 'priority', pgType: 'text' },
  ],
}
const columns = table.columns.map((c) => c.name).join(', ')

function toUsage(r: UsageDbRow): UsageRecord {
  return {
    at: num(r.at),
    requestId: r.request_id,
    consumerId: r.consumer_id,
    keyPrefix: r.key_prefix,
    sessionId: r.session_id,
    model: r.model,
    deployment: r.deployment,
    status: num(r.status),
    outcome: r.outcome,
    promptTokens: numOrNull(r.prompt_tokens),
    completionTokens: numOrNull(r.completion_tokens),
    costUsd: num(r.cost_usd),
    queueMs: num(r.queue_ms),
    latencyMs: num(r.latency_ms),
    partial: isFlagSet(r.partial),
    priority: r.priority,
  }
}

/**
 * A record as values the table accepts, whatever the caller put in: a batch that fails on one
 * odd value would be retried, fail again, and stop the whole ledger.
 */
function toValues(u: UsageRecord): unknown[] {
  return [
    int(u.at, 0),
    typeof u.requestId === 'string' ? text(u.requestId) : '',
    textOrNull(u.consumerId),
    textOrNull(u.keyPrefix),
    textOrNull(u.sessionId),
    textOrNull(u.model),
    textOrNull(u.deployment),
    int(u.status, 0),
    typeof u.outcome === 'string' ? text(u.outcome) : 'unknown',
    int(u.promptTokens, null),
    int(u.completionTokens, null),
    real(u.costUsd),
    real(u.queueMs),
    real(u.latencyMs),
    flag(u.partial),
    textOrNull(u.priority),
  ]
}

/** WHERE clause and parameters for a filter; at most 16 distinct texts, so each is prepared once. */
function where(f: UsageFilter, first: readonly string[] = []): { clause: string; params: unknown[] } {
  const terms = [...first]
  const params: unknown[] = []
  if (f.consumerId !== undefined) {
    terms.push('consumer_id = ?')
    params.push(text(f.consumerId))
  }
  if (f.model !== undefined) {
    terms.push('model = ?')
    params.push(text(f.model))
  }
  if (f.from !== undefined) {
    terms.push('at >= ?')
    params.push(int(f.from, 0))
  }
  if (f.to !== undefined) {
    terms.push('at < ?')
    params.push(int(f.to, 0))
  }
  return { clause: terms.length === 0 ? '' : `WHERE ${terms.join(' AND ')}`, params }
}

function page(q: UsageQuery): [number, number] {
  return [Math.min(maxUsagePage, Math.max(0, int(q.limit, 0))), Math.max(0, int(q.offset, 0))]
}

interface SumsDbRow {
  requests: number | string
  prompt: number | string | null
  completion: number | string | null
  cost: number | string | null
}

const sums = 'COUNT(*) AS requests, SUM(prompt_tokens) AS prompt, SUM(completion_tokens) AS completion, SUM(cost_usd) AS cost'

function toTotals(r: SumsDbRow | undefined): UsageTotals {
  return { requests: num(r?.requests), promptTokens: num(r?.prompt), completionTokens: num(r?.completion), costUsd: num(r?.cost) }
}

const sessionRows = `SELECT ${columns} FROM usage_records WHERE session_id = ? ORDER BY at, id LIMIT ?`
const spent = 'SELECT SUM(cost_usd) AS cost FROM usage_records WHERE consumer_id = ? AND at >= ?'
// A chunk at a time: one DELETE of a year of records would hold SQLite's write lock (and the
// event loop) or a long Postgres transaction for as long as it takes.
const pruneChunk = 'DELETE FROM usage_records WHERE id IN (SELECT id FROM usage_records WHERE at < ? LIMIT ?)'
const pruneChunkSize = 5_000

export class SqlUsage implements UsageStore {
  constructor(private readonly sql: Sql) {}

  async appendBatch(records: readonly UsageRecord[]): Promise<void> {
    if (records.length === 0) return
    await this.sql.insertMany(table, records.map(toValues))
  }

  async query(q: UsageQuery): Promise<{ records: UsageRecord[]; totals: UsageTotals }> {
    const { clause, params } = where(q)
    const [limit, offset] = page(q)
    const rows = limit === 0 ? [] : await this.sql.all<UsageDbRow>(`SELECT ${columns} FROM usage_records ${clause} ORDER BY at DESC, id DESC LIMIT ? OFFSET ?`, [...params, limit, offset])
    const totals = await this.sql.all<SumsDbRow>(`SELECT ${sums} FROM usage_records ${clause}`, params)
    return { records: rows.map(toUsage), totals: toTotals(totals[0]) }
  }

  async session(sessionId: string, limit = maxUsagePage): Promise<UsageRecord[]> {
    const n = Math.min(maxUsagePage, Math.max(0, int(limit, 0)))
    return (await this.sql.all<UsageDbRow>(sessionRows, [text(sessionId), n])).map(toUsage)
  }

  async sessions(q: UsageQuery): Promise<SessionSummary[]> {
    const { clause, params } = where(q, ['session_id IS NOT NULL'])
    const [limit, offset] = page(q)
    if (limit === 0) return []
    const rows = await this.sql.all<SumsDbRow & { session_id: string; first_at: number | string; last_at: number | string }>(
      `SELECT session_id, ${sums}, MIN(at) AS first_at, MAX(at) AS last_at FROM usage_records ${clause}
       GROUP BY session_id ORDER BY last_at DESC, session_id LIMIT ? OFFSET ?`,
      [...params, limit, offset],
    )
    return rows.map((r) => ({ sessionId: r.session_id, ...toTotals(r), firstAt: num(r.first_at), lastAt: num(r.last_at) }))
  }

  async daily(f: UsageFilter): Promise<DailyUsage[]> {
    const { clause, params } = where(f)
    // `at` is a whole number on both databases, so / is integer division: the day's number.
    const rows = await this.sql.all<SumsDbRow & { consumer_id: string | null; day: number | string }>(
      `SELECT consumer_id, at / ${dayMs} AS day, ${sums} FROM usage_records ${clause} GROUP BY consumer_id, at / ${dayMs}`,
      params,
    )
    // Sorted here: Postgres's collation and NULL order are not SQLite's.
    return rows
      .map((r) => ({ day: num(r.day) * dayMs, consumerId: r.consumer_id, ...toTotals(r) }))
      .sort((a, b) => a.day - b.day || byConsumer(a.consumerId, b.consumerId))
  }

  async spentSince(consumerId: string, since: number): Promise<number> {
    const rows = await this.sql.all<{ cost: number | string | null }>(spent, [consumerId, int(since, 0)])
    return num(rows[0]?.cost)
  }

  async prune(before: number): Promise<number> {
    let total = 0
    for (;;) {
      const n = await this.sql.run(pruneChunk, [int(before, 0), pruneChunkSize])
      total += n
      if (n < pruneChunkSize) return total
      // Let requests run between chunks (SQLite works on the event loop).
      await new Promise<void>((resolve) => setImmediate(resolve))
    }
  }
}

/** Ids in JavaScript string order (the same on every database), null (no consumer) last. */
function byConsumer(a: string | null, b: string | null): number {
  if (a === b) return 0
  if (a === null) return 1
  if (b === null) return -1
  return a < b ? -1 : 1
}
