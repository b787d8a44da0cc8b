/**
 * A write the database refused because of what is already there (`exists`: a consumer name or
 * key hash taken) or missing (`missing`: a key for a consumer that does not exist), or because
 * the request does not pick one row (`ambiguous`: a key prefix shared by several keys). The
 * admin API answers 409 or 404 from it; anything else from the store is a 5xx.
 *
 * Messages never carry the values involved: for a key, the value would be its hash.
 */
export class StoreConflictError extends Error {
  constructor(
    readonly reason: 'exists' | 'missing' | 'ambiguous',
    message: string,
    opts: {
      /** `table.column` of the unique value that was taken, when the database said. */
      readonly target?: string
      readonly cause?: unknown
    } = {},
  ) {
    super(message, { cause: opts.cause })
    this.name = 'StoreConflictError'
    this.target = opts.target
  }

  readonly target: string | undefined
}

/**
 * The database named by `database` could not be opened or migrated: unreachable, refused the
 * credentials, a file that cannot be created, a schema from a newer sluice. Something for the
 * operator to fix, so the CLI tells it without a stack trace. The message never holds a password.
 */
export class StoreOpenError extends Error {
  constructor(cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause), { cause })
    this.name = 'StoreOpenError'
  }
}

/** A better-sqlite3 constraint error as a StoreConflictError; anything else unchanged. */
export function fromSqliteError(err: unknown): unknown {
  const e = err as { code?: unknown; message?: unknown }
  if (e.code === 'SQLITE_CONSTRAINT_UNIQUE' || e.code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
    // "UNIQUE constraint failed: consumers.name"
    const target = /failed: ([\w.]+)/.exec(String(e.message))?.[1]
    return new StoreConflictError('exists', `${target ?? 'a unique value'} is taken`, { target, cause: err })
  }
  if (e.code === 'SQLITE_CONSTRAINT_FOREIGNKEY') return new StoreConflictError('missing', 'a row it refers to does not exist', { cause: err })
  return err
}

/** A pg unique or foreign-key violation as a StoreConflictError; null for anything else. */
export function fromPostgresError(err: unknown): StoreConflictError | null {
  const e = err as { code?: unknown; table?: unknown; detail?: unknown }
  if (e.code === '23505') {
    // detail is "Key (name)=(alice) already exists.": only the column is kept, never the value.
    const column = /^Key \(([\w, ]+)\)=/.exec(String(e.detail))?.[1]
    const target = typeof e.table === 'string' && column !== undefined ? `${e.table}.${column}` : undefined
    return new StoreConflictError('exists', `${target ?? 'a unique value'} is taken`, { target, cause: err })
  }
  if (e.code === '23503') return new StoreConflictError('missing', 'a row it refers to does not exist', { cause: err })
  return null
}
