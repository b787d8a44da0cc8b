import { StoreConflictError } from '../errors.js'
import type { VirtualKeyMatch, VirtualKeyRow, VirtualKeyStore } from '../types.js'
import { consumerColumns, toConsumer, type ConsumerDbRow } from './consumers.js'
import type { Sql } from './sql.js'
import { num, numOrNull } from './values.js'

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

// Every column but `hash`: what leaves the database about a key. Only findByHash's WHERE
// mentions the hash, and no SELECT list does.
const columns = ['id', 'consumer_id', 'prefix', 'name', 'created_at', 'expires_at', 'revoked_at', 'last_used_at'] as const
const keyColumns = columns.map((c) => `k.${c}`).join(', ')
const returning = `RETURNING ${columns.join(', ')}`

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

const hexHash = /^[0-9a-f]{64}$/
const maxPrefix = 16

const insert = 'INSERT INTO virtual_keys (id, consumer_id, prefix, hash, name, created_at, expires_at, revoked_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)'
// The auth hot path: one indexed lookup (hash is UNIQUE) joined to the consumer. The consumer's
// columns are renamed so the two rows do not collide.
const findByHash = `SELECT ${keyColumns}, ${consumerColumns
  .split(', ')
  .map((c) => `${c} AS c_${c.slice(2)}`)
  .join(', ')}
  FROM virtual_keys k JOIN consumers c ON c.id = k.consumer_id WHERE k.hash = ?`
const listAll = `SELECT ${keyColumns} FROM virtual_keys k ORDER BY k.created_at DESC, k.id`
const listOne = `SELECT ${keyColumns} FROM virtual_keys k WHERE k.consumer_id = ? ORDER BY k.created_at DESC, k.id`
const revokeById = `UPDATE virtual_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL ${returning}`
const idExists = 'SELECT 1 AS found FROM virtual_keys WHERE id = ?'
// Revokes by prefix only when exactly one unrevoked key has it, checked in the same statement.
const revokeByPrefix = `UPDATE virtual_keys SET revoked_at = ?
  WHERE prefix = ? AND revoked_at IS NULL
    AND (SELECT COUNT(*) FROM virtual_keys v WHERE v.prefix = ? AND v.revoked_at IS NULL) = 1
  ${returning}`
const activeWithPrefix = 'SELECT COUNT(*) AS n FROM virtual_keys WHERE prefix = ? AND revoked_at IS NULL'
// The id list is one parameter: a JSON array on SQLite, a text[] on Postgres.
const touch = {
  sqlite: 'UPDATE virtual_keys SET last_used_at = ? WHERE id IN (SELECT value FROM json_each(?)) AND (last_used_at IS NULL OR last_used_at < ?)',
  postgres: 'UPDATE virtual_keys SET last_used_at = ? WHERE id = ANY(?::text[]) AND (last_used_at IS NULL OR last_used_at < ?)',
} as const

type JoinedRow = KeyDbRow & { [K in keyof ConsumerDbRow as `c_${K}`]: ConsumerDbRow[K] }

export class SqlVirtualKeys implements VirtualKeyStore {
  constructor(private readonly sql: Sql) {}

  async create(row: VirtualKeyRow, hash: string): Promise<void> {
    // Guards against a caller passing the key itself where the hash or prefix belongs.
    if (!hexHash.test(hash)) throw new Error('virtual key hash must be 64 lowercase hex characters (SHA-256 of the key), never the key')
    if (row.prefix.length > maxPrefix) throw new Error(`virtual key prefix must be at most ${maxPrefix} characters, never the key`)
    try {
      await this.sql.run(insert, [row.id, row.consumerId, row.prefix, hash, row.name, row.createdAt, row.expiresAt, row.revokedAt, row.lastUsedAt])
    } catch (err) {
      if (!(err instanceof StoreConflictError)) throw err
      if (err.reason === 'missing') throw new StoreConflictError('missing', `no consumer with id "${row.consumerId}"`, { cause: err })
      const what = err.target === 'virtual_keys.hash' ? 'a virtual key with this hash exists already' : `a virtual key with id "${row.id}" exists already`
      throw new StoreConflictError('exists', what, { target: err.target, cause: err })
    }
  }

  async findByHash(hash: string): Promise<VirtualKeyMatch | null> {
    if (!hexHash.test(hash)) return null
    const r = (await this.sql.all<JoinedRow>(findByHash, [hash]))[0]
    if (r === undefined) return null
    return {
      key: toKey(r),
      consumer: toConsumer({
        id: r.c_id,
        name: r.c_name,
        tier: r.c_tier,
        overrides_json: r.c_overrides_json,
        disabled: r.c_disabled,
        created_at: r.c_created_at,
        updated_at: r.c_updated_at,
      }),
    }
  }

  async list(consumerId?: string): Promise<VirtualKeyRow[]> {
    const rows = consumerId === undefined ? await this.sql.all<KeyDbRow>(listAll, []) : await this.sql.all<KeyDbRow>(listOne, [consumerId])
    return rows.map(toKey)
  }

  async revoke(idOrPrefix: string, at: number): Promise<VirtualKeyRow[]> {
    const byId = await this.sql.all<KeyDbRow>(revokeById, [at, idOrPrefix])
    if (byId.length > 0) return byId.map(toKey)
    if ((await this.sql.all(idExists, [idOrPrefix])).length > 0) return [] // that key was revoked already
    const byPrefix = await this.sql.all<KeyDbRow>(revokeByPrefix, [at, idOrPrefix, idOrPrefix])
    if (byPrefix.length > 0) return byPrefix.map(toKey)
    const n = num((await this.sql.all<{ n: number | string }>(activeWithPrefix, [idOrPrefix]))[0]?.n)
    if (n > 1) throw new StoreConflictError('ambiguous', `${n} active keys start with ${idOrPrefix}: revoke one by its id`)
    return []
  }

  async touchLastUsed(ids: readonly string[], at: number): Promise<void> {
    if (ids.length === 0) return
    const list = this.sql.dialect === 'sqlite' ? JSON.stringify(ids) : ids
    await this.sql.run(touch[this.sql.dialect], [at, list, at])
  }
}
