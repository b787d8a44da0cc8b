import type { Migration } from './types.js'

export interface AppliedMigration {
  readonly version: number
  readonly name: string
}

/**
 * The migrations still to run, oldest first. Throws when the database has a version this code
 * does not know: it was written by a newer sluice, and running on it could lose or corrupt
 * what that version stores.
 */
export function pendingMigrations(applied: readonly AppliedMigration[], known: readonly Migration[]): Migration[] {
  const knownVersions = new Set(known.map((m) => m.version))
  const latest = known.reduce((max, m) => Math.max(max, m.version), 0)
  const unknown = applied.filter((a) => !knownVersions.has(a.version))
  if (unknown.length > 0) {
    const list = unknown.map((a) => `${a.version} (${a.name})`).join(', ')
    const newer = unknown.some((a) => a.version > latest)
    throw new Error(
      `the database has migration ${list}, which this sluice does not know (it knows up to ${latest})` +
        `${newer ? ': it was used by a newer sluice' : ''}. Run that version, or point the database setting at another database.`,
    )
  }
  const done = new Set(applied.map((a) => a.version))
  return known.filter((m) => !done.has(m.version)).sort((a, b) => a.version - b.version)
}
