// The consumer, key and usage tables are queried the same way on SQLite and Postgres: the SQL
// is written once with `?` placeholders, and each adapter gives a Sql that runs it.

export interface Sql {
  all<T>(sql: string, params: readonly unknown[]): Promise<T[]>
  /** Rows changed. */
  run(sql: string, params: readonly unknown[]): Promise<number>
  /** Runs one statement per parameter list, all in one transaction. */
  batch(sql: string, rows: readonly (readonly unknown[])[]): Promise<void>
}

/** `?` → `$1`, `$2` … for Postgres (the queries here hold no `?` inside strings). */
export function numbered(sql: string): string {
  let i = 0
  return sql.replace(/\?/g, () => `$${++i}`)
}
