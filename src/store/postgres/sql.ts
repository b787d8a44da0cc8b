import type pg from 'pg'
import type { PostgresTarget } from '../database-url.js'
import { fromPostgresError } from '../errors.js'
import { numbered, type InsertTable, type Sql } from '../sql/sql.js'
import { connect, describeError } from './pool.js'
import { inTransaction } from './transaction.js'

/** Runs work so the store's close() can wait for it. */
export type Runner = <T>(work: () => Promise<T>) => Promise<T>

// Rows per INSERT … unnest: the statement's size does not grow with the rows (each column is
// one array parameter), so this only bounds the size of one message to the server.
const rowsPerInsert = 5_000

/**
 * The shared tables' Sql on a pg pool. Each distinct SQL text is numbered once and sent as a
 * named statement, so every connection parses and plans it once. The texts are a fixed set
 * (the usage filters make 16 variants at most), so the names stay few. Unique and foreign-key
 * violations become StoreConflictError; other errors name the server, never its password.
 */
export function postgresSql(pool: pg.Pool, target: PostgresTarget, run: Runner): Sql {
  const prepared = new Map<string, { name: string; text: string }>()
  const statement = (sql: string): { name: string; text: string } => {
    let st = prepared.get(sql)
    if (st === undefined) prepared.set(sql, (st = { name: `sluice_${prepared.size + 1}`, text: numbered(sql) }))
    return st
  }
  const fail = (err: unknown): never => {
    throw fromPostgresError(err) ?? new Error(`postgres at ${target.where}: ${describeError(err, target)}`, { cause: err })
  }
  const query = async (sql: string, params: readonly unknown[], client: pg.Pool | pg.PoolClient = pool): Promise<pg.QueryResult> =>
    client.query({ ...statement(sql), values: params as unknown[] }).catch(fail)
  const insertSql = (table: InsertTable): string =>
    `INSERT INTO ${table.name} (${table.columns.map((c) => c.name).join(', ')}) SELECT * FROM unnest(${table.columns.map((c) => `?::${c.pgType}[]`).join(', ')})`
  /** Rows → one array per column. */
  const byColumn = (table: InsertTable, rows: readonly (readonly unknown[])[]): unknown[][] => table.columns.map((_, i) => rows.map((r) => r[i] ?? null))
  return {
    dialect: 'postgres',
    all<T>(sql: string, params: readonly unknown[]): Promise<T[]> {
      return run(async () => (await query(sql, params)).rows as T[])
    },
    run(sql: string, params: readonly unknown[]): Promise<number> {
      return run(async () => (await query(sql, params)).rowCount ?? 0)
    },
    insertMany(table: InsertTable, rows: readonly (readonly unknown[])[]): Promise<void> {
      return run(async () => {
        if (rows.length === 0) return
        const sql = insertSql(table)
        // One statement is atomic by itself: no transaction, no client to check out.
        if (rows.length <= rowsPerInsert) {
          await query(sql, byColumn(table, rows))
          return
        }
        const client = await connect(pool, target)
        let failed: Error | undefined
        try {
          await inTransaction(client, async () => {
            for (let i = 0; i < rows.length; i += rowsPerInsert) await query(sql, byColumn(table, rows.slice(i, i + rowsPerInsert)), client)
          })
        } catch (err) {
          failed = err as Error
          throw err
        } finally {
          // After a failure the connection may be in any state: drop it rather than reuse it.
          client.release(failed)
        }
      })
    },
  }
}
