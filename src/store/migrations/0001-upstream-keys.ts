import type { Migration } from './types.js'

// One row per upstream key (KeyLearning). Tables are named for what they hold
// (upstream_keys beside the future consumers, virtual_keys, usage_log), columns in snake_case.
//
// - `key_id`, not `key`: the config file's id for the key, never the secret.
// - The override is three nullable columns plus `override_mode`, because an override *to
//   adaptive* stores maxConcurrent = null, which without the mode would read as "no override".
//   The CHECKs keep the four columns consistent with each other.
// - Timestamps are epoch milliseconds (BIGINT on Postgres), the same numbers the code uses.
// - `history_json` is a JSON array kept as text: it is read and written whole, never queried.
// - SQLite tables are STRICT so a value of the wrong type fails as it does on Postgres instead
//   of being stored as something else.

export const upstreamKeys: Migration = {
  version: 1,
  name: 'upstream_keys',
  sqlite: `
    CREATE TABLE upstream_keys (
      id                      TEXT    NOT NULL PRIMARY KEY,
      provider                TEXT    NOT NULL,
      key_id                  TEXT    NOT NULL,
      override_mode           TEXT    NOT NULL CHECK (override_mode IN ('none', 'adaptive', 'fixed')),
      override_max_concurrent INTEGER,
      override_config_value   INTEGER,
      override_set_at         INTEGER,
      learned_limit           REAL,
      accepted_level          REAL,
      concurrent_429_count    INTEGER NOT NULL DEFAULT 0,
      rpm_429_count           INTEGER NOT NULL DEFAULT 0,
      tpm_429_count           INTEGER NOT NULL DEFAULT 0,
      last_429_at             INTEGER,
      last_429_type           TEXT,
      last_probe_at           INTEGER,
      history_json            TEXT    NOT NULL DEFAULT '[]',
      updated_at              INTEGER NOT NULL,
      CONSTRAINT upstream_keys_override_fixed CHECK ((override_mode = 'fixed') = (override_max_concurrent IS NOT NULL)),
      CONSTRAINT upstream_keys_override_set_at CHECK ((override_mode = 'none') = (override_set_at IS NULL)),
      CONSTRAINT upstream_keys_override_config CHECK (override_mode <> 'none' OR override_config_value IS NULL)
    ) STRICT;
  `,
  postgres: `
    CREATE TABLE upstream_keys (
      id                      TEXT             NOT NULL PRIMARY KEY,
      provider                TEXT             NOT NULL,
      key_id                  TEXT             NOT NULL,
      override_mode           TEXT             NOT NULL CHECK (override_mode IN ('none', 'adaptive', 'fixed')),
      override_max_concurrent INTEGER,
      override_config_value   INTEGER,
      override_set_at         BIGINT,
      learned_limit           DOUBLE PRECISION,
      accepted_level          DOUBLE PRECISION,
      concurrent_429_count    BIGINT           NOT NULL DEFAULT 0,
      rpm_429_count           BIGINT           NOT NULL DEFAULT 0,
      tpm_429_count           BIGINT           NOT NULL DEFAULT 0,
      last_429_at             BIGINT,
      last_429_type           TEXT,
      last_probe_at           BIGINT,
      history_json            TEXT             NOT NULL DEFAULT '[]',
      updated_at              BIGINT           NOT NULL,
      CONSTRAINT upstream_keys_override_fixed CHECK ((override_mode = 'fixed') = (override_max_concurrent IS NOT NULL)),
      CONSTRAINT upstream_keys_override_set_at CHECK ((override_mode = 'none') = (override_set_at IS NULL)),
      CONSTRAINT upstream_keys_override_config CHECK (override_mode <> 'none' OR override_config_value IS NULL)
    );
  `,
}
