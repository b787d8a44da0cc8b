import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'
import { fromRow, keyLearningColumns, toRow, type KeyLearningRow } from '../key-learning-row.js'
import { migrations } from '../migrations/index.js'
import { SqlConsumers } from '../sql/consumers.js'
import { SqlUsage } from '../sql/usage.js'
import { SqlVirtualKeys } from '../sql/virtual-keys.js'
import type { ConsumerStore, KeyLearning, KeyLearningStore, Store, UsageStore, VirtualKeyStore } from '../types.js'
import { migrateSqlite } from './migrate.js'
import { rowsPerInsert, sqliteSql } from './sql.js'
import { ThreadedInserts } from './threaded-inserts.js'

export interface SqliteStoreOptions {
  /** An absolute path or `:memory:`. */
  readonly path: string
  readonly onWarning?: (msg: string) => void
}

/** Opens (creating if needed) the database file and brings its schema up to date. */
export function openSqliteStore(opts: SqliteStoreOptions): SqliteStore {
  const memory = opts.path === ':memory:'
  let db: Database.Database
  try {
    if (!memory) mkdirSync(dirname(opts.path), { recursive: true })
    db = new Database(opts.path)
  } catch (err) {
    throw new Error(`could not open sqlite database ${opts.path}: ${(err as Error).message}`, { cause: err })
  }
  let wal = false
  try {
    if (!memory) {
      // WAL lets readers (an operator's sqlite3 shell, a backup) work while sluice writes.
      const mode = db.pragma('journal_mode = WAL', { simple: true })
      wal = mode === 'wal'
      if (!wal) opts.onWarning?.(`sqlite database ${opts.path}: journal_mode is ${String(mode)}, not wal (unsupported file system?)`)
    }
    db.pragma('busy_timeout = 5000')
    // NORMAL in WAL mode can lose the last commits on power loss, never corrupt the file:
    // learned limits are re-learned quickly, a sync per write is not worth it.
    db.pragma('synchronous = NORMAL')
    db.pragma('foreign_keys = ON')
    migrateSqlite(db, migrations)
    // Writes run on the event loop: waiting 5 s for another process's lock (a second instance, an
    // operator's open transaction) would stall every request. A busy write fails fast instead and
    // the writer tries again later.
    db.pragma('busy_timeout = 20')
  } catch (err) {
    db.close()
    throw new Error(`sqlite database ${opts.path}: ${(err as Error).message}`, { cause: err })
  }
  // In WAL mode a file's usage batches go through a writer thread, whose commits are nearly all
  // of the writes and so run nearly all the checkpoints (the event loop's connection keeps the
  // default, so its own rare writes still keep the WAL bounded when no usage is written).
  // Without WAL the thread's writes would block this connection's reads (a key lookup on the
  // request path) for the whole batch, so batches stay here; `:memory:` is one connection's alone.
  return new SqliteStore(db, wal ? new ThreadedInserts(opts.path, rowsPerInsert) : null)
}

// better-sqlite3 is synchronous, so every method does its work before returning; `async` turns
// any throw into a rejected promise, as the port promises.
export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const
  readonly keyLearning: KeyLearningStore
  readonly consumers: ConsumerStore
  readonly virtualKeys: VirtualKeyStore
  readonly usage: UsageStore
  readonly #db: Database.Database
  readonly #threaded: ThreadedInserts | null
  #closed = false

  constructor(db: Database.Database, threaded: ThreadedInserts | null = null) {
    this.#db = db
    this.#threaded = threaded
    this.keyLearning = new SqliteKeyLearning(db, () => this.#closed)
    const sql = sqliteSql(db, () => this.#closed, threaded)
    this.consumers = new SqlConsumers(sql)
    this.virtualKeys = new SqlVirtualKeys(sql)
    this.usage = new SqlUsage(sql)
  }

  // Only the writer thread's batches can be in progress: close() waits for them. Every other
  // write finished synchronously inside the call that began it (a usage prune between two
  // chunks gets "closed" at its next chunk).
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.#threaded?.close()
    this.#db.close()
  }
}

class SqliteKeyLearning implements KeyLearningStore {
  readonly #isClosed: () => boolean
  readonly #select: Database.Statement<[], KeyLearningRow>
  readonly #saveAll: Database.Transaction<(rows: readonly KeyLearningRow[]) => void>

  constructor(db: Database.Database, isClosed: () => boolean) {
    this.#isClosed = isClosed
    this.#select = db.prepare<[], KeyLearningRow>(`SELECT ${keyLearningColumns.join(', ')} FROM upstream_keys ORDER BY id`)
    const upsert = db.prepare<[KeyLearningRow]>(
      `INSERT INTO upstream_keys (${keyLearningColumns.join(', ')})
       VALUES (${keyLearningColumns.map((c) => `@${c}`).join(', ')})
       ON CONFLICT (id) DO UPDATE SET ${keyLearningColumns.filter((c) => c !== 'id').map((c) => `${c} = excluded.${c}`).join(', ')}`,
    )
    this.#saveAll = db.transaction((rows: readonly KeyLearningRow[]) => {
      for (const row of rows) upsert.run(row)
    })
  }

  async loadAll(): Promise<KeyLearning[]> {
    this.#checkOpen()
    return this.#select.all().map(fromRow)
  }

  async saveAll(records: readonly KeyLearning[]): Promise<void> {
    this.#checkOpen()
    if (records.length === 0) return
    const now = Date.now()
    this.#saveAll.immediate(records.map((r) => toRow(r, now)))
  }

  #checkOpen(): void {
    if (this.#isClosed()) throw new Error('the sqlite store is closed')
  }
}
