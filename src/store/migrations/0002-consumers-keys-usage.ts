import type { Migration } from './types.js'

// Consumers, their virtual keys, and the usage ledger.
//
// - A virtual key is stored as its SHA-256 (`hash`, unique, 64 hex characters) and a short
//   visible `prefix`; the key itself never reaches the database. The CHECKs on both lengths
//   make storing the secret by mistake (in either column) fail instead of succeed.
// - Deleting a consumer deletes its keys (ON DELETE CASCADE): a key without a consumer could
//   never be used again, and keeping it would only keep a hash around. Its usage records stay,
//   for the accounts: usage_records has no foreign key on purpose.
// - `overrides_json`: a consumer's overrides of its tier (rpm, tpm, budget_usd, budget_period,
//   models, priority_default, priority_max, weight — any may be absent or null), read and
//   written whole, never queried.
// - Flags are INTEGER 0/1 and timestamps epoch milliseconds on both databases, so one set of
//   queries serves both.
// - usage_records grows with traffic: indexed for the admin queries (by consumer, by model,
//   by session, by time), for budgets (consumer since a period start) and for pruning by time.
//   The session index is partial: most requests carry no X-Session-ID.
// - usage_records.id only orders records that finished in the same millisecond. AUTOINCREMENT
//   keeps SQLite from reusing the ids of pruned rows, as BIGSERIAL never does.

export const consumersKeysUsage: Migration = {
  version: 2,
  name: 'consumers_keys_usage',
  sqlite: `
    CREATE TABLE consumers (
      id             TEXT    NOT NULL PRIMARY KEY,
      name           TEXT    NOT NULL UNIQUE,
      tier           TEXT,
      overrides_json TEXT,
      disabled       INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
      created_at     INTEGER NOT NULL,
      updated_at     INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE virtual_keys (
      id           TEXT    NOT NULL PRIMARY KEY,
      consumer_id  TEXT    NOT NULL REFERENCES consumers (id) ON DELETE CASCADE,
      prefix       TEXT    NOT NULL CHECK (length(prefix) <= 16),
      hash         TEXT    NOT NULL UNIQUE CHECK (length(hash) = 64),
      name         TEXT,
      created_at   INTEGER NOT NULL,
      expires_at   INTEGER,
      revoked_at   INTEGER,
      last_used_at INTEGER
    ) STRICT;
    CREATE INDEX virtual_keys_consumer ON virtual_keys (consumer_id);
    CREATE INDEX virtual_keys_prefix ON virtual_keys (prefix);
    CREATE TABLE usage_records (
      id                INTEGER PRIMARY KEY AUTOINCREMENT,
      at                INTEGER NOT NULL,
      request_id        TEXT    NOT NULL,
      consumer_id       TEXT,
      key_prefix        TEXT,
      session_id        TEXT,
      model             TEXT,
      deployment        TEXT,
      status            INTEGER NOT NULL,
      outcome           TEXT    NOT NULL,
      prompt_tokens     INTEGER,
      completion_tokens INTEGER,
      cost_usd          REAL    NOT NULL DEFAULT 0,
      queue_ms          REAL    NOT NULL DEFAULT 0,
      latency_ms        REAL    NOT NULL DEFAULT 0,
      partial           INTEGER NOT NULL DEFAULT 0 CHECK (partial IN (0, 1)),
      priority          TEXT
    ) STRICT;
    CREATE INDEX usage_records_at ON usage_records (at);
    CREATE INDEX usage_records_consumer ON usage_records (consumer_id, at);
    CREATE INDEX usage_records_model ON usage_records (model, at);
    CREATE INDEX usage_records_session ON usage_records (session_id, at) WHERE session_id IS NOT NULL;
  `,
  postgres: `
    CREATE TABLE consumers (
      id             TEXT    NOT NULL PRIMARY KEY,
      name           TEXT    NOT NULL UNIQUE,
      tier           TEXT,
      overrides_json TEXT,
      disabled       INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
      created_at     BIGINT  NOT NULL,
      updated_at     BIGINT  NOT NULL
    );
    CREATE TABLE virtual_keys (
      id           TEXT   NOT NULL PRIMARY KEY,
      consumer_id  TEXT   NOT NULL REFERENCES consumers (id) ON DELETE CASCADE,
      prefix       TEXT   NOT NULL CHECK (length(prefix) <= 16),
      hash         TEXT   NOT NULL UNIQUE CHECK (length(hash) = 64),
      name         TEXT,
      created_at   BIGINT NOT NULL,
      expires_at   BIGINT,
      revoked_at   BIGINT,
      last_used_at BIGINT
    );
    CREATE INDEX virtual_keys_consumer ON virtual_keys (consumer_id);
    CREATE INDEX virtual_keys_prefix ON virtual_keys (prefix);
    CREATE TABLE usage_records (
      id                BIGSERIAL        PRIMARY KEY,
      at                BIGINT           NOT NULL,
      request_id        TEXT             NOT NULL,
      consumer_id       TEXT,
      key_prefix        TEXT,
      session_id        TEXT,
      model             TEXT,
      deployment        TEXT,
      status            INTEGER          NOT NULL,
      outcome           TEXT             NOT NULL,
      prompt_tokens     BIGINT,
      completion_tokens BIGINT,
      cost_usd          DOUBLE PRECISION NOT NULL DEFAULT 0,
      queue_ms          DOUBLE PRECISION NOT NULL DEFAULT 0,
      latency_ms        DOUBLE PRECISION NOT NULL DEFAULT 0,
      partial           INTEGER          NOT NULL DEFAULT 0 CHECK (partial IN (0, 1)),
      priority          TEXT
    );
    CREATE INDEX usage_records_at ON usage_records (at);
    CREATE INDEX usage_records_consumer ON usage_records (consumer_id, at);
    CREATE INDEX usage_records_model ON usage_records (model, at);
    CREATE INDEX usage_records_session ON usage_records (session_id, at) WHERE session_id IS NOT NULL;
  `,
}
