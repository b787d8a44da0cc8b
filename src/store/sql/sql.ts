// The consumer, key and usage tables are queried the same way on SQLite and Postgres: the SQL
// is written once with `?` placeholders, and each adapter gives a Sql that runs it (numbering
// the placeholders for Postgres, preparing each distinct text once on both).

export type Dialect = 'sqlite' | 'postgres'

/** A column for insertMany: its name, and its Postgres type (for the array each column is sent as). */
export interface InsertColumn {
  readonly name: string
  readonly pgType: 'bigint' | 'integer' | 'double precision' | 'text'
}

export interface InsertTable {
  readonly name: string
  readonly columns: readonly InsertColumn[]
}

export interface Sql {
  /** For the few statements the two dialects cannot share (a list bound as one parameter). */
  readonly dialect: Dialect
  /** Rows of a SELECT, or of an INSERT/UPDATE/DELETE … RETURNING. */
  all<T>(sql: string, params: readonly unknown[]): Promise<T[]>
  /** Runs a statement; resolves to the rows it changed. */
  run(sql: string, params: readonly unknown[]): Promise<number>
  /**
   * Inserts rows (values in `table.columns` order) in one transaction, all or nothing, with as
   * few statements as the dialect allows: multi-row VALUES on SQLite, one INSERT … SELECT FROM
   * unnest(arrays) on Postgres.
   */
  insertMany(table: InsertTable, rows: readonly (readonly unknown[])[]): Promise<void>
}

/** `?` → `$1`, `$2` … for Postgres (the queries here hold no `?` inside strings or operators). */
export function numbered(sql: string): string {
  let i = 0
  return sql.replace(/\?/g, () => `$${++i}`)
}
