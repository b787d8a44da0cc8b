import type { Database } from 'better-sqlite3'
import { ledger, pendingMigrations, type AppliedMigration, type Migration } from '../migrations/index.js'

/**
 * Runs each pending migration in its own IMMEDIATE transaction with its ledger row. IMMEDIATE
 * takes the write lock before the ledger is read, so a second process opening the same file
 * waits (busy_timeout) and then sees the migration as done instead of running it again.
 */
export function migrateSqlite(db: Database, known: readonly Migration[], now: () => number = Date.now): Migration[] {
  const ran: Migration[] = []
  const step = db.transaction((): Migration | undefined => {
    db.exec(ledger.sqlite)
    const applied = db.prepare<[], AppliedMigration>(ledger.select).all()
    const next = pendingMigrations(applied, known)[0]
    if (next === undefined) return undefined
    try {
      db.exec(next.sqlite)
    } catch (err) {
      throw new Error(`database migration ${next.version} (${next.name}) failed: ${(err as Error).message}`, { cause: err })
    }
    db.prepare('INSERT INTO sluice_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(next.version, next.name, Math.floor(now()))
    return next
  })
  for (let next = step.immediate(); next !== undefined; next = step.immediate()) ran.push(next)
  return ran
}
