import type Database from 'better-sqlite3'
import { fromSqliteError } from '../errors.js'
import type { InsertTable, Sql } from '../sql/sql.js'
import type { ThreadedInserts } from './threaded-inserts.js'

// Rows per multi-row INSERT: 50 × 16 columns stays under 999 parameters, the smallest limit
// any SQLite build has had. Bigger statements save little more: better-sqlite3 runs them in
// process, with no round trip to save.
export const rowsPerInsert = 50

/**
 * The shared tables' Sql on one better-sqlite3 connection. Statements are prepared once per
 * SQL text and kept; constraint failures become StoreConflictError. better-sqlite3 is
 * synchronous: each call does its work before returning, and `async` turns a throw into a
 * rejection.
 */
export function sqliteSql(db: Database.Database, isClosed: () => boolean, threaded: ThreadedInserts | null = null): Sql {
  const statements = new Map<string, Database.Statement>()
  const prepare = (sql: string): Database.Statement => {
    if (isClosed()) throw new Error('the sqlite store is closed')
    let st = statements.get(sql)
    if (st === undefined) statements.set(sql, (st = db.prepare(sql)))
    return st
  }
  const inserts = new Map<string, { many: Database.Statement; one: Database.Statement }>()
  const insertsFor = (table: InsertTable): { many: Database.Statement; one: Database.Statement } => {
    let found = inserts.get(table.name)
    if (found === undefined) {
      const head = `INSERT INTO ${table.name} (${table.columns.map((c) => c.name).join(', ')}) VALUES `
      const row = `(${table.columns.map(() => '?').join(', ')})`
      found = { many: prepare(head + Array.from({ length: rowsPerInsert }, () => row).join(', ')), one: prepare(head + row) }
      inserts.set(table.name, found)
    }
    return found
  }
  const insertAll = db.transaction((st: { many: Database.Statement; one: Database.Statement }, rows: readonly (readonly unknown[])[]) => {
    let i = 0
    for (; i + rowsPerInsert <= rows.length; i += rowsPerInsert) st.many.run(...rows.slice(i, i + rowsPerInsert).flat())
    for (; i < rows.length; i++) st.one.run(...rows[i]!)
  })
  const attempt = <T>(work: () => T): T => {
    try {
      return work()
    } catch (err) {
      throw fromSqliteError(err)
    }
  }
  return {
    dialect: 'sqlite',
    async all<T>(sql: string, params: readonly unknown[]): Promise<T[]> {
      return attempt(() => prepare(sql).all(...params) as T[])
    },
    async run(sql: string, params: readonly unknown[]): Promise<number> {
      return attempt(() => prepare(sql).run(...params).changes)
    },
    async insertMany(table: InsertTable, rows: readonly (readonly unknown[])[]): Promise<void> {
      if (rows.length === 0) return
      if (threaded !== null) {
        if (isClosed()) throw new Error('the sqlite store is closed')
        return threaded.insertMany(table, rows).catch((err: unknown) => {
          throw fromSqliteError(err)
        })
      }
      const st = insertsFor(table)
      // IMMEDIATE takes the write lock before the first insert, so the batch fails at once (and
      // whole) when another process holds it, rather than halfway.
      attempt(() => insertAll.immediate(st, rows))
    },
  }
}
