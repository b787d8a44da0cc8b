import { parseDatabaseUrl } from './database-url.js'
import { StoreOpenError } from './errors.js'
import { openSqliteStore } from './sqlite/index.js'
import type { Store } from './types.js'

export interface OpenStoreOptions {
  /** Problems that do not stop sluice (a lost idle connection, WAL unavailable). */
  readonly onWarning?: (msg: string) => void
}

/**
 * Opens the database named by the `database` setting and applies pending migrations. The
 * accepted forms are documented on parseDatabaseUrl; any failure is a StoreOpenError, whose
 * message never quotes a password.
 */
export async function openStore(url: string, opts: OpenStoreOptions = {}): Promise<Store> {
  try {
    const target = parseDatabaseUrl(url)
    if (target.kind === 'sqlite') return await openSqliteStore({ path: target.path, onWarning: opts.onWarning })
    // Loaded only when asked for: the pg driver costs ~15 MB of resident memory in every process otherwise.
    const { openPostgresStore } = await import('./postgres/index.js')
    return await openPostgresStore({ target, onWarning: opts.onWarning })
  } catch (err) {
    throw new StoreOpenError(err)
  }
}
