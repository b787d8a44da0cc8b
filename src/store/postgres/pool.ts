import pg from 'pg'
import { scrub, type PostgresTarget } from '../database-url.js'

const INT8_OID = 20

// BIGINT columns (epoch-ms timestamps, counters) would otherwise come back as strings. Every
// value sluice stores is far below 2^53, so a JS number holds it exactly. Set per pool, not on
// pg's global registry, so nothing else in the process is affected.
const types = new pg.TypeOverrides()
types.setTypeParser(INT8_OID, (value: string) => Number(value))

export function createPool(target: PostgresTarget, onWarning: (msg: string) => void): pg.Pool {
  const pool = new pg.Pool({
    connectionString: target.connectionString,
    max: 10,
    // Without it, an unreachable (firewalled) server hangs startup forever.
    connectionTimeoutMillis: 10_000,
    types,
  })
  // An idle client that loses its connection emits 'error' on the pool; unhandled, that kills
  // the process. The next query gets a fresh connection, so a warning is enough.
  pool.on('error', (err) => onWarning(`postgres at ${target.where}: idle connection failed: ${describeError(err, target)}`))
  return pool
}

/** Checks a client out, turning a failure into an error that says where, never with the password. */
export async function connect(pool: pg.Pool, target: PostgresTarget): Promise<pg.PoolClient> {
  try {
    return await pool.connect()
  } catch (err) {
    throw new Error(`could not connect to postgres at ${target.where}: ${describeError(err, target)}`, { cause: err })
  }
}

/** The driver's message, password scrubbed. Node's dual-stack connect throws an AggregateError with an empty message. */
export function describeError(err: unknown, target: PostgresTarget): string {
  const e = err as { message?: string; code?: string; errors?: unknown[] }
  let text = e.message ?? String(err)
  if (text === '' && Array.isArray(e.errors)) text = e.errors.map((inner) => (inner as Error).message).join('; ')
  if (text === '') text = e.code ?? 'unknown error'
  return scrub(text, target.password)
}
