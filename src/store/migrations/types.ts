/**
 * One step of the schema, written for both dialects. A released migration never changes: a
 * database that already ran it would not run it again, so fixes go in a new version.
 */
export interface Migration {
  /** 1, 2, 3 …: applied in this order, recorded in `sluice_migrations`. */
  readonly version: number
  /** snake_case, recorded beside the version so an operator can tell what ran. */
  readonly name: string
  readonly sqlite: string
  readonly postgres: string
}
