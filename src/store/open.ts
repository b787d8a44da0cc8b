import { parseDatabaseUrl } from './database-url.js'
import { StoreOpenError } from './errors.js'
import { openPostgresStore } from './postgres/index.js'
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
    return await openPostgresStore({ target, onWarning: opts.onWarning })
  } catch (err) {
    throw new StoreOpenError(err)
  }
}
