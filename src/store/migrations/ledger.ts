// The table that records which migrations ran. It is created outside the numbered migrations
// because it is what tells the runner which of them are needed.
export const ledger = {
  sqlite: `
    CREATE TABLE IF NOT EXISTS sluice_migrations (
      version    INTEGER NOT NULL PRIMARY KEY,
      name       TEXT    NOT NULL,
      applied_at INTEGER NOT NULL
    ) STRICT
  `,
  postgres: `
    CREATE TABLE IF NOT EXISTS sluice_migrations (
      version    INTEGER NOT NULL PRIMARY KEY,
      name       TEXT    NOT NULL,
      applied_at BIGINT  NOT NULL
    )
  `,
  select: 'SELECT version, name FROM sluice_migrations ORDER BY version',
} as const
