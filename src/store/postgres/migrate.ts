import type pg from 'pg'
import { ledger, pendingMigrations, type AppliedMigration, type Migration } from '../migrations/index.js'
import { inTransaction } from './transaction.js'

// Namespace for sluice's advisory locks ('sluc'); the second key is the schema's hash, so
// deployments in different schemas of one database do not wait for each other.
const LOCK_CLASS = 0x736c7563

/**
 * Runs each pending migration in its own transaction with its ledger row, under a transaction
 * advisory lock: gateway processes starting together take turns, and each re-reads the ledger
 * after getting the lock, so no migration runs twice. The lock ends with the transaction, even
 * if the process dies.
 */
export async function migratePostgres(client: pg.ClientBase, known: readonly Migration[], now: () => number = Date.now): Promise<Migration[]> {
  const schema = (await client.query<{ schema: string | null }>('SELECT current_schema() AS schema')).rows[0]?.schema ?? null
  if (schema === null) {
    throw new Error('postgres has no schema to create tables in: the schema named by ?schema= (or the search_path) does not exist')
  }
  const ran: Migration[] = []
  for (;;) {
    const next = await inTransaction(client, async () => {
      await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_CLASS, schema])
      await client.query(ledger.postgres)
      const applied = (await client.query<AppliedMigration>(ledger.select)).rows
      const m = pendingMigrations(applied, known)[0]
      if (m === undefined) return undefined
      try {
        await client.query(m.postgres)
      } catch (err) {
        throw new Error(`database migration ${m.version} (${m.name}) failed: ${(err as Error).message}`, { cause: err })
      }
      await client.query('INSERT INTO sluice_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, Math.floor(now())])
      return m
    })
    if (next === undefined) return ran
    ran.push(next)
  }
}
