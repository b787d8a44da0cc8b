import type pg from 'pg'
import type { PostgresTarget } from '../database-url.js'
import { fromRow, keyLearningColumns, toRow, type KeyLearningRow } from '../key-learning-row.js'
import { migrations } from '../migrations/index.js'
import { SqlConsumers } from '../sql/consumers.js'
import { SqlUsage } from '../sql/usage.js'
import { SqlVirtualKeys } from '../sql/virtual-keys.js'
import type { ConsumerStore, KeyLearning, KeyLearningStore, Store, UsageStore, VirtualKeyStore } from '../types.js'
import { migratePostgres } from './migrate.js'
import { connect, createPool, describeError } from './pool.js'
import { postgresSql, type Runner } from './sql.js'
import { inTransaction } from './transaction.js'

export interface PostgresStoreOptions {
  readonly target: PostgresTarget
  readonly onWarning?: (msg: string) => void
}

/** Connects, brings the schema up to date, and keeps the pool for the store. */
export async function openPostgresStore(opts: PostgresStoreOptions): Promise<PostgresStore> {
  const { target } = opts
  const pool = createPool(target, opts.onWarning ?? (() => undefined))
  let client: pg.PoolClient
  try {
    client = await connect(pool, target)
  } catch (err) {
    await pool.end().catch(() => undefined)
    throw err
  }
  try {
    await migratePostgres(client, migrations)
    client.release()
  } catch (err) {
    client.release(err as Error)
    await pool.end().catch(() => undefined)
    throw new Error(`postgres at ${target.where}: ${describeError(err, target)}`, { cause: err })
  }
  return new PostgresStore(pool, target)
}

export class PostgresStore implements Store {
  readonly kind = 'postgres' as const
  readonly keyLearning: KeyLearningStore
  readonly consumers: ConsumerStore
  readonly virtualKeys: VirtualKeyStore
  readonly usage: UsageStore
  readonly #pool: pg.Pool
  readonly #pending = new Set<Promise<unknown>>()
  #closing: Promise<void> | null = null

  constructor(pool: pg.Pool, target: PostgresTarget) {
    this.#pool = pool
    const run: Runner = (work) => this.#run(work)
    this.keyLearning = new PostgresKeyLearning(pool, target, run)
    const sql = postgresSql(pool, target, run)
    this.consumers = new SqlConsumers(sql)
    this.virtualKeys = new SqlVirtualKeys(sql)
    this.usage = new SqlUsage(sql)
  }

  /** Waits for every operation already started, then ends the pool. Later calls share the first one's promise. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await Promise.allSettled(this.#pending)
      await this.#pool.end()
    })()
    return this.#closing
  }

  // Every operation goes through here so close() knows what is still in flight; pool.end()
  // alone would fail an operation that has not checked out its client yet.
  #run<T>(work: () => Promise<T>): Promise<T> {
    if (this.#closing !== null) return Promise.reject(new Error('the postgres store is closed'))
    const p = work()
    this.#pending.add(p)
    const forget = (): void => void this.#pending.delete(p)
    p.then(forget, forget)
    return p
  }
}

class PostgresKeyLearning implements KeyLearningStore {
  readonly #pool: pg.Pool
  readonly #target: PostgresTarget
  readonly #run: Runner
  // Built once: the per-call path only binds values.
  readonly #select = `SELECT ${keyLearningColumns.join(', ')} FROM upstream_keys ORDER BY id COLLATE "C"`
  readonly #upsert = `INSERT INTO upstream_keys (${keyLearningColumns.join(', ')})
    VALUES (${keyLearningColumns.map((_, i) => `$${i + 1}`).join(', ')})
    ON CONFLICT (id) DO UPDATE SET ${keyLearningColumns.filter((c) => c !== 'id').map((c) => `${c} = EXCLUDED.${c}`).join(', ')}`

  constructor(pool: pg.Pool, target: PostgresTarget, run: Runner) {
    this.#pool = pool
    this.#target = target
    this.#run = run
  }

  loadAll(): Promise<KeyLearning[]> {
    return this.#run(async () => {
      const res = await this.#pool.query<KeyLearningRow>(this.#select).catch((err: unknown) => this.#fail('could not load upstream_keys', err))
      return res.rows.map(fromRow)
    })
  }

  saveAll(records: readonly KeyLearning[]): Promise<void> {
    return this.#run(async () => {
      if (records.length === 0) return
      const now = Date.now()
      const rows = records.map((r) => toRow(r, now))
      const client = await connect(this.#pool, this.#target)
      let failed: Error | undefined
      try {
        // One statement per row, not one multi-row INSERT: Postgres refuses a multi-row upsert
        // that touches the same id twice, and a batch of a few dozen keys costs little.
        await inTransaction(client, async () => {
          for (const row of rows) await client.query(this.#upsert, keyLearningColumns.map((c) => row[c]))
        })
      } catch (err) {
        failed = err as Error
        this.#fail('could not save upstream_keys', err)
      } finally {
        // After a failure the connection may be in any state: drop it rather than reuse it.
        client.release(failed)
      }
    })
  }

  #fail(what: string, err: unknown): never {
    throw new Error(`postgres at ${this.#target.where}: ${what}: ${describeError(err, this.#target)}`, { cause: err })
  }
}
