import type pg from 'pg'

/** Runs `work` between BEGIN and COMMIT; rolls back and rethrows on failure. */
export async function inTransaction<T>(client: pg.ClientBase, work: () => Promise<T>): Promise<T> {
  await client.query('BEGIN')
  try {
    const result = await work()
    await client.query('COMMIT')
    return result
  } catch (err) {
    // A failed ROLLBACK means the connection is gone; the caller's error is the one to report.
    await client.query('ROLLBACK').catch(() => undefined)
    throw err
  }
}
