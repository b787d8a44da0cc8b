import type { Sql } from './sql.js'
import type {
  ConsumerPatch,
  ConsumerRow,
  ConsumerStore,
  UsageQuery,
  UsageRecord,
  UsageStore,
  UsageTotals,
  VirtualKeyRow,
  VirtualKeyStore,
} from './types.js'

// Postgres returns BIGINT and SUM() as strings: every number read goes through num().

const num = (v: unknown): number => (typeof v === 'number' ? v : Number(v))
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : num(v))

interface ConsumerDbRow {
  id: string
  name: string
  tier: string | null
  overrides_json: string | null
  disabled: number | string
  created_at: number | string
  updated_at: number | string
}

const consumerColumns = 'c.id, c.name, c.tier, c.overrides_json, c.disabled, c.created_at, c.updated_at'

function toConsumer(r: ConsumerDbRow): ConsumerRow {
  return {
    id: r.id,
    name: r.name,
    tier: r.tier,
    overrides: r.overrides_json === null ? null : (JSON.parse(r.overrides_json) as Record<string, unknown>),
    disabled: num(r.disabled) === 1,
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
  }
}

export class SqlConsumers implements ConsumerStore {
  constructor(private readonly sql: Sql) {}

  async create(row: ConsumerRow): Promise<void> {
    await this.sql.run('INSERT INTO consumers (id, name, tier, overrides_json, disabled, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)', [
      row.id,
      row.name,
      row.tier,
      row.overrides === null ? null : JSON.stringify(row.overrides),
      row.disabled ? 1 : 0,
      row.createdAt,
      row.updatedAt,
    ])
  }

  async get(id: string): Promise<ConsumerRow | null> {
    const rows = await this.sql.all<ConsumerDbRow>(`SELECT ${consumerColumns} FROM consumers c WHERE c.id = ?`, [id])
    return rows[0] ? toConsumer(rows[0]) : null
  }

  async getByName(name: string): Promise<ConsumerRow | null> {
    const rows = await this.sql.all<ConsumerDbRow>(`SELECT ${consumerColumns} FROM consumers c WHERE c.name = ?`, [name])
    return rows[0] ? toConsumer(rows[0]) : null
  }

  async list(): Promise<ConsumerRow[]> {
    return (await this.sql.all<ConsumerDbRow>(`SELECT ${consumerColumns} FROM consumers c ORDER BY c.name`, [])).map(toConsumer)
  }

  async update(id: string, patch: ConsumerPatch, at: number): Promise<ConsumerRow | null> {
    const sets: string[] = []
    const params: unknown[] = []
    if (patch.name !== undefined) {
      sets.push('name = ?')
      params.push(patch.name)
    }
    if (patch.tier !== undefined) {
      sets.push('tier = ?')
      params.push(patch.tier)
    }
    if (patch.overrides !== undefined) {
      sets.push('overrides_json = ?')
      params.push(patch.overrides === null ? null : JSON.stringify(patch.overrides))
    }
    if (patch.disabled !== undefined) {
      sets.push('disabled = ?')
      params.push(patch.disabled ? 1 : 0)
    }
    sets.push('updated_at = ?')
    params.push(at, id)
    const changed = await this.sql.run(`UPDATE consumers SET ${sets.join(', ')} WHERE id = ?`, params)
    return changed === 0 ? null : this.get(id)
  }

  async delete(id: string): Promise<boolean> {
    // Keys go with their consumer (ON DELETE CASCADE); usage records stay, for the accounts.
    await this.sql.run('DELETE FROM virtual_keys WHERE consumer_id = ?', [id])
    return (await this.sql.run('DELETE FROM consumers WHERE id = ?', [id])) > 0
  }

  async count(): Promise<number> {
    const rows = await this.sql.all<{ n: number | string }>('SELECT COUNT(*) AS n FROM consumers', [])
    return num(rows[0]?.n ?? 0)
  }
}

interface KeyDbRow {
  id: string
  consumer_id: string
  prefix: string
  name: string | null
  created_at: number | string
  expires_at: number | string | null
  revoked_at: number | string | null
  last_used_at: number | string | null
}

const keyColumns = 'k.id, k.consumer_id, k.prefix, k.name, k.created_at, k.expires_at, k.revoked_at, k.last_used_at'

function toKey(r: KeyDbRow): VirtualKeyRow {
  return {
    id: r.id,
    consumerId: r.consumer_id,
    prefix: r.prefix,
    name: r.name,
    createdAt: num(r.created_at),
    expiresAt: numOrNull(r.expires_at),
    revokedAt: numOrNull(r.revoked_at),
    lastUsedAt: numOrNull(r.last_used_at),
  }
}

export class SqlVirtualKeys implements VirtualKeyStore {
  constructor(private readonly sql: Sql) {}

  async create(row: VirtualKeyRow, hash: string): Promise<void> {
    await this.sql.run('INSERT INTO virtual_keys (id, consumer_id, prefix, hash, name, created_at, expires_at, revoked_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)', [
      row.id,
      row.consumerId,
      row.prefix,
      hash,
      row.name,
      row.createdAt,
      row.expiresAt,
      row.revokedAt,
      row.lastUsedAt,
    ])
  }

  async findByHash(hash: string): Promise<{ key: VirtualKeyRow; consumer: ConsumerRow } | null> {
    const rows = await this.sql.all<KeyDbRow & { c_id: string; c_name: string; c_tier: string | null; c_overrides_json: string | null; c_disabled: number | string; c_created_at: number | string; c_updated_at: number | string }>(
      `SELECT ${keyColumns}, c.id AS c_id, c.name AS c_name, c.tier AS c_tier, c.overrides_json AS c_overrides_json, c.disabled AS c_disabled,
              c.created_at AS c_created_at, c.updated_at AS c_updated_at
       FROM virtual_keys k JOIN consumers c ON c.id = k.consumer_id WHERE k.hash = ?`,
      [hash],
    )
    const r = rows[0]
    if (!r) return null
    return {
      key: toKey(r),
      consumer: toConsumer({ id: r.c_id, name: r.c_name, tier: r.c_tier, overrides_json: r.c_overrides_json, disabled: r.c_disabled, created_at: r.c_created_at, updated_at: r.c_updated_at }),
    }
  }

  async list(consumerId?: string): Promise<VirtualKeyRow[]> {
    const rows =
      consumerId === undefined
        ? await this.sql.all<KeyDbRow>(`SELECT ${keyColumns} FROM virtual_keys k ORDER BY k.created_at DESC, k.id`, [])
        : await this.sql.all<KeyDbRow>(`SELECT ${keyColumns} FROM virtual_keys k WHERE k.consumer_id = ? ORDER BY k.created_at DESC, k.id`, [consumerId])
    return rows.map(toKey)
  }

  async revoke(idOrPrefix: string, at: number): Promise<VirtualKeyRow[]> {
    const found = await this.sql.all<KeyDbRow>(`SELECT ${keyColumns} FROM virtual_keys k WHERE (k.id = ? OR k.prefix = ?) AND k.revoked_at IS NULL`, [idOrPrefix, idOrPrefix])
    if (found.length === 0) return []
    await this.sql.run('UPDATE virtual_keys SET revoked_at = ? WHERE (id = ? OR prefix = ?) AND revoked_at IS NULL', [at, idOrPrefix, idOrPrefix])
    return found.map((r) => ({ ...toKey(r), revokedAt: at }))
  }

  async touch(ids: readonly string[], at: number): Promise<void> {
    if (ids.length === 0) return
    await this.sql.batch('UPDATE virtual_keys SET last_used_at = ? WHERE id = ?', ids.map((id) => [at, id]))
  }
}

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

const usageColumns = ['at', 'request_id', 'consumer_id', 'key_prefix', 'session_id', 'model', 'deployment', 'status', 'outcome', 'prompt_tokens', 'completion_tokens', 'cost_usd', 'queue_ms', 'latency_ms', 'partial', 'priority'] as const
const insertUsage = `INSERT INTO usage_records (${usageColumns.join(', ')}) VALUES (${usageColumns.map(() => '?').join(', ')})`

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
    partial: num(r.partial) === 1,
    priority: r.priority,
  }
}

function usageParams(u: UsageRecord): unknown[] {
  return [
    Math.round(u.at),
    u.requestId,
    u.consumerId,
    u.keyPrefix,
    u.sessionId,
    u.model,
    u.deployment,
    u.status,
    u.outcome,
    u.promptTokens,
    u.completionTokens,
    u.costUsd,
    u.queueMs,
    u.latencyMs,
    u.partial ? 1 : 0,
    u.priority,
  ]
}

export class SqlUsage implements UsageStore {
  constructor(private readonly sql: Sql) {}

  async append(records: readonly UsageRecord[]): Promise<void> {
    if (records.length === 0) return
    await this.sql.batch(insertUsage, records.map(usageParams))
  }

  async query(q: UsageQuery): Promise<{ records: UsageRecord[]; totals: UsageTotals }> {
    const where: string[] = []
    const params: unknown[] = []
    if (q.consumerId !== undefined) {
      where.push('consumer_id = ?')
      params.push(q.consumerId)
    }
    if (q.model !== undefined) {
      where.push('model = ?')
      params.push(q.model)
    }
    if (q.from !== undefined) {
      where.push('at >= ?')
      params.push(q.from)
    }
    if (q.to !== undefined) {
      where.push('at < ?')
      params.push(q.to)
    }
    const clause = where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`
    const rows = await this.sql.all<UsageDbRow>(`SELECT ${usageColumns.join(', ')} FROM usage_records ${clause} ORDER BY at DESC, id DESC LIMIT ? OFFSET ?`, [...params, q.limit, q.offset])
    const totals = await this.sql.all<{ requests: number | string; prompt: number | string | null; completion: number | string | null; cost: number | string | null }>(
      `SELECT COUNT(*) AS requests, SUM(prompt_tokens) AS prompt, SUM(completion_tokens) AS completion, SUM(cost_usd) AS cost FROM usage_records ${clause}`,
      params,
    )
    const t = totals[0]
    return {
      records: rows.map(toUsage),
      totals: { requests: num(t?.requests ?? 0), promptTokens: num(t?.prompt ?? 0), completionTokens: num(t?.completion ?? 0), costUsd: num(t?.cost ?? 0) },
    }
  }

  async session(sessionId: string, limit: number): Promise<UsageRecord[]> {
    return (await this.sql.all<UsageDbRow>(`SELECT ${usageColumns.join(', ')} FROM usage_records WHERE session_id = ? ORDER BY at, id LIMIT ?`, [sessionId, limit])).map(toUsage)
  }

  async spentSince(consumerId: string, since: number): Promise<number> {
    const rows = await this.sql.all<{ cost: number | string | null }>('SELECT SUM(cost_usd) AS cost FROM usage_records WHERE consumer_id = ? AND at >= ?', [consumerId, since])
    return num(rows[0]?.cost ?? 0)
  }

  async prune(before: number): Promise<number> {
    return this.sql.run('DELETE FROM usage_records WHERE at < ?', [before])
  }
}
