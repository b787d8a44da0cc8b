import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ThreadedInserts, ThreadedInsertError } from '../../../src/store/sqlite/threaded-inserts.js'
import type { InsertTable } from '../../../src/store/sql/sql.js'
import { fromSqliteError, StoreConflictError } from '../../../src/store/errors.js'

const table: InsertTable = { name: 'items', columns: [{ name: 'n', pgType: 'bigint' }, { name: 'label', pgType: 'text' }] }

describe('ThreadedInserts: a SQLite file written from a thread of its own', () => {
  let dir: string
  let file: string
  let db: Database.Database
  let inserts: ThreadedInserts

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-threaded-'))
    file = join(dir, 'test.db')
    db = new Database(file)
    db.pragma('journal_mode = WAL')
    db.exec('CREATE TABLE items (n INTEGER UNIQUE, label TEXT)')
    inserts = new ThreadedInserts(file, 4)
  })

  afterEach(async () => {
    await inserts.close()
    db.close()
    rmSync(dir, { recursive: true, force: true })
  })

  const rows = (from: number, count: number): unknown[][] => Array.from({ length: count }, (_, i) => [from + i, `item ${from + i}`])

  it('stores every batch, in order, in multi-row and single-row statements alike, visible to the main connection', async () => {
    await Promise.all([inserts.insertMany(table, rows(0, 10)), inserts.insertMany(table, rows(10, 3)), inserts.insertMany(table, rows(13, 8))])
    const stored = db.prepare('SELECT n, label FROM items ORDER BY rowid').all() as Array<{ n: number; label: string }>
    expect(stored.map((r) => r.n)).toEqual(Array.from({ length: 21 }, (_, i) => i))
    expect(stored[20]).toEqual({ n: 20, label: 'item 20' })
  })

  it('refuses a batch that breaks a constraint as a whole, with SQLite\'s code, and goes on with the next', async () => {
    await inserts.insertMany(table, rows(0, 2))
    const failed = await inserts.insertMany(table, [...rows(5, 3), [1, 'duplicate']]).catch((err: unknown) => err)
    expect(failed).toBeInstanceOf(ThreadedInsertError)
    expect((failed as ThreadedInsertError).code).toBe('SQLITE_CONSTRAINT_UNIQUE')
    expect(fromSqliteError(failed)).toBeInstanceOf(StoreConflictError)
    await inserts.insertMany(table, rows(2, 1))
    expect((db.prepare('SELECT n FROM items ORDER BY n').all() as Array<{ n: number }>).map((r) => r.n)).toEqual([0, 1, 2])
  })

  it('close() waits for the batches already handed over, then refuses new ones', async () => {
    let stored = false
    const pending = inserts.insertMany(table, rows(0, 50)).then(() => (stored = true))
    await inserts.close()
    expect(stored).toBe(true) // close() resolved only after the batch did
    expect((db.prepare('SELECT COUNT(*) AS c FROM items').get() as { c: number }).c).toBe(50)
    await pending
    await expect(inserts.insertMany(table, rows(100, 1))).rejects.toThrow('closed')
  })

  it('a batch for a table that does not exist fails alone; the thread stays usable', async () => {
    await expect(inserts.insertMany({ name: 'missing', columns: table.columns }, rows(0, 1))).rejects.toThrow(/no such table/)
    await inserts.insertMany(table, rows(0, 1))
    expect((db.prepare('SELECT COUNT(*) AS c FROM items').get() as { c: number }).c).toBe(1)
  })
})
