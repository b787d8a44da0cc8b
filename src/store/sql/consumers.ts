import { StoreConflictError } from '../errors.js'
import type { ConsumerPatch, ConsumerRow, ConsumerStore } from '../types.js'
import type { Sql } from './sql.js'
import { flag, isFlagSet, num } from './values.js'

export interface ConsumerDbRow {
  id: string
  name: string
  tier: string | null
  overrides_json: string | null
  disabled: number | string
  created_at: number | string
  updated_at: number | string
}

/** Columns of `consumers c`, in ConsumerDbRow's names. */
export const consumerColumns = 'c.id, c.name, c.tier, c.overrides_json, c.disabled, c.created_at, c.updated_at'

export function toConsumer(r: ConsumerDbRow): ConsumerRow {
  return {
    id: r.id,
    name: r.name,
    tier: r.tier,
    overrides: r.overrides_json === null ? null : (JSON.parse(r.overrides_json) as Record<string, unknown>),
    disabled: isFlagSet(r.disabled),
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
  }
}

const overridesJson = (o: Readonly<Record<string, unknown>> | null | undefined): string | null => (o === null || o === undefined ? null : JSON.stringify(o))

const insert = 'INSERT INTO consumers (id, name, tier, overrides_json, disabled, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)'
const byId = `SELECT ${consumerColumns} FROM consumers c WHERE c.id = ?`
const byName = `SELECT ${consumerColumns} FROM consumers c WHERE c.name = ?`
// Byte order on both: a Postgres database created with a locale (en_US.UTF-8) would otherwise
// sort case-insensitively first, unlike SQLite.
const all = {
  sqlite: `SELECT ${consumerColumns} FROM consumers c ORDER BY c.name`,
  postgres: `SELECT ${consumerColumns} FROM consumers c ORDER BY c.name COLLATE "C"`,
} as const
// One statement whatever the patch holds (a NULL flag means "keep"), so there is one prepared
// text instead of one per combination of fields. tier and overrides can be set to NULL, so
// each has its own "set it" flag.
const update = `UPDATE consumers SET
    name = COALESCE(?, name),
    tier = CASE WHEN ? = 1 THEN ? ELSE tier END,
    overrides_json = CASE WHEN ? = 1 THEN ? ELSE overrides_json END,
    disabled = COALESCE(?, disabled),
    updated_at = ?
  WHERE id = ?`
// The keys go too, by ON DELETE CASCADE, in the same statement.
const remove = 'DELETE FROM consumers WHERE id = ?'
const count = 'SELECT COUNT(*) AS n FROM consumers'

export class SqlConsumers implements ConsumerStore {
  constructor(private readonly sql: Sql) {}

  async create(row: ConsumerRow): Promise<void> {
    try {
      await this.sql.run(insert, [row.id, row.name, row.tier, overridesJson(row.overrides), flag(row.disabled), row.createdAt, row.updatedAt])
    } catch (err) {
      throw this.#explain(err, row.name, row.id)
    }
  }

  async get(id: string): Promise<ConsumerRow | null> {
    const rows = await this.sql.all<ConsumerDbRow>(byId, [id])
    return rows[0] ? toConsumer(rows[0]) : null
  }

  async getByName(name: string): Promise<ConsumerRow | null> {
    const rows = await this.sql.all<ConsumerDbRow>(byName, [name])
    return rows[0] ? toConsumer(rows[0]) : null
  }

  async list(): Promise<ConsumerRow[]> {
    return (await this.sql.all<ConsumerDbRow>(all[this.sql.dialect], [])).map(toConsumer)
  }

  async update(id: string, patch: ConsumerPatch, at: number): Promise<ConsumerRow | null> {
    const params = [
      patch.name ?? null,
      patch.tier === undefined ? 0 : 1,
      patch.tier ?? null,
      patch.overrides === undefined ? 0 : 1,
      overridesJson(patch.overrides),
      patch.disabled === undefined ? null : flag(patch.disabled),
      at,
      id,
    ]
    let changed: number
    try {
      changed = await this.sql.run(update, params)
    } catch (err) {
      throw this.#explain(err, patch.name ?? '', id)
    }
    return changed === 0 ? null : this.get(id)
  }

  async delete(id: string): Promise<boolean> {
    return (await this.sql.run(remove, [id])) > 0
  }

  async count(): Promise<number> {
    const rows = await this.sql.all<{ n: number | string }>(count, [])
    return num(rows[0]?.n)
  }

  #explain(err: unknown, name: string, id: string): unknown {
    if (!(err instanceof StoreConflictError) || err.reason !== 'exists') return err
    const byName = err.target === 'consumers.name'
    return new StoreConflictError('exists', byName ? `a consumer named "${name}" exists already` : `a consumer with id "${id}" exists already`, { target: err.target, cause: err })
  }
}
