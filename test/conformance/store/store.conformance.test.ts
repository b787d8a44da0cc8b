import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import pg from 'pg'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { openStore } from '../../../src/store/open.js'
import { migrations } from '../../../src/store/migrations/index.js'
import type { KeyLearning, Store } from '../../../src/store/types.js'

// One contract, every adapter: the same body runs against SQLite (a temp file) and Postgres (a
// fresh schema per test in the `test` database, so parallel runs never meet). Postgres is
// required, not optional: when it is unreachable this suite fails.

const postgresUrl = process.env.SLUICE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

/** Direct access to the database under test, to look at or tamper with what the store wrote. */
interface Raw {
  query(sql: string): Promise<Record<string, unknown>[]>
  columns(table: string): Promise<string[]>
}

interface TestDatabase {
  readonly url: string
  readonly raw: Raw
  dispose(): Promise<void>
}

interface Backend {
  readonly name: 'sqlite' | 'postgres'
  create(): Promise<TestDatabase>
}

const sqlite: Backend = {
  name: 'sqlite',
  create() {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-store-'))
    const file = join(dir, 'sluice.db')
    const raw: Raw = {
      async query(sql) {
        const db = new Database(file)
        try {
          const stmt = db.prepare(sql)
          return stmt.reader ? (stmt.all() as Record<string, unknown>[]) : (stmt.run(), [])
        } finally {
          db.close()
        }
      },
      async columns(table) {
        return (await raw.query(`PRAGMA table_info(${table})`)).map((r) => String(r.name))
      },
    }
    return Promise.resolve({ url: `sqlite:${file}`, raw, dispose: async () => rmSync(dir, { recursive: true, force: true }) })
  },
}

const postgres: Backend = {
  name: 'postgres',
  async create() {
    const schema = `sluice_test_${randomBytes(6).toString('hex')}`
    const admin = new pg.Client({ connectionString: postgresUrl })
    await admin.connect()
    await admin.query(`CREATE SCHEMA ${schema}`)
    const raw: Raw = {
      async query(sql) {
        await admin.query(`SET search_path TO ${schema}`)
        return (await admin.query(sql)).rows as Record<string, unknown>[]
      },
      async columns(table) {
        const rows = await admin.query(
          'SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position',
          [schema, table],
        )
        return rows.rows.map((r: { column_name: string }) => r.column_name)
      },
    }
    return {
      url: `${postgresUrl}?schema=${schema}`,
      raw,
      async dispose() {
        await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
        await admin.end()
      },
    }
  },
}

const full: KeyLearning = {
  id: 'openai~k1',
  provider: 'openai',
  key: 'k1',
  override: { maxConcurrent: 7, configValue: 12, setAt: 1_767_225_600_123 },
  learnedLimit: 11.375,
  acceptedLevel: 13.25,
  concurrent429Count: 4,
  rpm429Count: 2,
  tpm429Count: 9_000_000_000,
  last429At: 1_767_225_612_345,
  last429Type: 'concurrency',
  lastProbeAt: 1_767_225_699_999,
  history: [
    { timestamp: '2026-01-01T00:00:00.000Z', old_limit: 10, new_limit: 11, reason: 'probe accepted', inflight: 10 },
    { timestamp: '2026-01-01T00:01:00.000Z', old_limit: 11, new_limit: 8, reason: "concurrent 429 — \"backoff\" ×0.7", inflight: 12 },
  ],
}

const minimal: KeyLearning = {
  id: 'anthropic~a1',
  provider: 'anthropic',
  key: 'a1',
  override: null,
  learnedLimit: null,
  acceptedLevel: null,
  concurrent429Count: 0,
  rpm429Count: 0,
  tpm429Count: 0,
  last429At: null,
  last429Type: null,
  lastProbeAt: null,
  history: [],
}

const adaptiveOverride: KeyLearning = {
  ...minimal,
  id: 'azure~z1',
  provider: 'azure',
  key: 'z1',
  override: { maxConcurrent: null, configValue: 5, setAt: 1_767_225_600_000 },
  learnedLimit: 0,
  acceptedLevel: 0,
}

describe.each([sqlite, postgres])('store conformance: $name', (backend) => {
  let db: TestDatabase
  const open: Store[] = []

  async function openIt(): Promise<Store> {
    const store = await openStore(db.url)
    open.push(store)
    return store
  }

  beforeEach(async () => {
    db = await backend.create()
  })
  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.close()))
    await db.dispose()
  })

  it('reports its kind', async () => {
    expect((await openIt()).kind).toBe(backend.name)
  })

  describe('migrations', () => {
    it('create the ledger and the upstream_keys table', async () => {
      await openIt()
      const ledger = await db.raw.query('SELECT version, name FROM sluice_migrations ORDER BY version')
      expect(ledger.map((r) => ({ version: Number(r.version), name: r.name }))).toEqual([
        { version: 1, name: 'upstream_keys' },
        { version: 2, name: 'consumers_keys_usage' },
      ])
      expect(await db.raw.columns('upstream_keys')).toEqual([
        'id',
        'provider',
        'key_id',
        'override_mode',
        'override_max_concurrent',
        'override_config_value',
        'override_set_at',
        'learned_limit',
        'accepted_level',
        'concurrent_429_count',
        'rpm_429_count',
        'tpm_429_count',
        'last_429_at',
        'last_429_type',
        'last_probe_at',
        'history_json',
        'updated_at',
      ])
    })

    it('are idempotent: a second open applies nothing', async () => {
      const first = await openIt()
      await first.close()
      const before = await db.raw.query('SELECT version, name, applied_at FROM sluice_migrations ORDER BY version')
      await openIt()
      expect(await db.raw.query('SELECT version, name, applied_at FROM sluice_migrations ORDER BY version')).toEqual(before)
    })

    it('run once when several processes open a fresh database at the same time', async () => {
      const stores = await Promise.all([openIt(), openIt(), openIt()])
      expect(stores).toHaveLength(3)
      const ledger = await db.raw.query('SELECT version FROM sluice_migrations')
      expect(ledger).toHaveLength(migrations.length)
    })

    it('refuse a database migrated by a newer sluice', async () => {
      await (await openIt()).close()
      await db.raw.query("INSERT INTO sluice_migrations (version, name, applied_at) VALUES (999, 'from_the_future', 0)")
      await expect(openStore(db.url)).rejects.toThrow(/migration 999 \(from_the_future\).*does not know.*up to 2.*newer sluice/)
    })
  })

  describe('keyLearning', () => {
    it('starts empty', async () => {
      expect(await (await openIt()).keyLearning.loadAll()).toEqual([])
    })

    it('round-trips a full record, a minimal one and an override to adaptive', async () => {
      const store = await openIt()
      await store.keyLearning.saveAll([full, minimal, adaptiveOverride])
      const loaded = await store.keyLearning.loadAll()
      expect(sortById(loaded)).toEqual(sortById([full, minimal, adaptiveOverride]))
      // toEqual would accept undefined for null; the port distinguishes them.
      const min = loaded.find((r) => r.id === minimal.id)
      expect(min?.override).toBeNull()
      expect(min?.learnedLimit).toBeNull()
      expect(min?.last429At).toBeNull()
      const adaptive = loaded.find((r) => r.id === adaptiveOverride.id)
      expect(adaptive?.override).toStrictEqual({ maxConcurrent: null, configValue: 5, setAt: 1_767_225_600_000 })
      expect(adaptive?.learnedLimit).toBe(0)
      const f = loaded.find((r) => r.id === full.id)
      expect(typeof f?.last429At).toBe('number')
      expect(typeof f?.tpm429Count).toBe('number')
    })

    it('stores the override mode explicitly', async () => {
      const store = await openIt()
      await store.keyLearning.saveAll([full, minimal, adaptiveOverride])
      const rows = await db.raw.query('SELECT id, override_mode FROM upstream_keys ORDER BY id')
      expect(rows).toEqual([
        { id: minimal.id, override_mode: 'none' },
        { id: adaptiveOverride.id, override_mode: 'adaptive' },
        { id: full.id, override_mode: 'fixed' },
      ])
    })

    it('keeps fractional limits exactly', async () => {
      const store = await openIt()
      const odd = { ...full, learnedLimit: 0.1 + 0.2, acceptedLevel: 1 / 3 }
      await store.keyLearning.saveAll([odd])
      expect(await store.keyLearning.loadAll()).toEqual([odd])
    })

    it('upserts: saving an id again replaces the record', async () => {
      const store = await openIt()
      await store.keyLearning.saveAll([full, minimal])
      const changed: KeyLearning = { ...full, override: null, learnedLimit: 3.5, history: [], last429Type: null }
      await store.keyLearning.saveAll([changed])
      expect(sortById(await store.keyLearning.loadAll())).toEqual(sortById([changed, minimal]))
    })

    it('saves nothing for an empty batch', async () => {
      const store = await openIt()
      await store.keyLearning.saveAll([])
      expect(await store.keyLearning.loadAll()).toEqual([])
    })

    it('keeps the last of two records with the same id in one batch', async () => {
      const store = await openIt()
      await store.keyLearning.saveAll([full, { ...full, learnedLimit: 2 }])
      expect(await store.keyLearning.loadAll()).toEqual([{ ...full, learnedLimit: 2 }])
    })

    it('saves a batch atomically: one bad record and nothing in the batch is written', async () => {
      const store = await openIt()
      await store.keyLearning.saveAll([full])
      const bad = { ...minimal, id: 'bad~b1', provider: null as unknown as string }
      let pending: Promise<void> | undefined
      // The failure must come back as a rejection, never a synchronous throw.
      expect(() => {
        pending = store.keyLearning.saveAll([{ ...full, learnedLimit: 99 }, adaptiveOverride, bad])
      }).not.toThrow()
      await expect(pending).rejects.toThrow(/provider/)
      expect(await store.keyLearning.loadAll()).toEqual([full])
      // The store is still usable after a failed batch.
      await store.keyLearning.saveAll([minimal])
      expect(await store.keyLearning.loadAll()).toHaveLength(2)
    })

    it('keeps what was saved across a restart', async () => {
      const first = await openIt()
      await first.keyLearning.saveAll([full, minimal, adaptiveOverride])
      await first.close()
      const second = await openIt()
      expect(sortById(await second.keyLearning.loadAll())).toEqual(sortById([full, minimal, adaptiveOverride]))
    })
  })

  describe('close', () => {
    it('can be called twice, even at once', async () => {
      const store = await openIt()
      await Promise.all([store.close(), store.close()])
      await expect(store.close()).resolves.toBeUndefined()
    })

    it('lets a write already started finish', async () => {
      const store = await openIt()
      const saving = store.keyLearning.saveAll([full, minimal])
      await store.close()
      await saving
      const again = await openIt()
      expect(await again.keyLearning.loadAll()).toHaveLength(2)
    })

    it('refuses work afterwards with a rejection', async () => {
      const store = await openIt()
      await store.close()
      await expect(store.keyLearning.loadAll()).rejects.toThrow(/closed/)
      await expect(store.keyLearning.saveAll([full])).rejects.toThrow(/closed/)
    })
  })
})

describe('store: sqlite specifics', () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-store-'))
  })
  afterEach(() => rmSync(dir, { recursive: true, force: true }))

  it('creates missing parent directories and uses WAL', async () => {
    const file = join(dir, 'nested', 'deeper', 'sluice.db')
    const store = await openStore(`sqlite:${file}`)
    await store.close()
    expect(existsSync(file)).toBe(true)
    const db = new Database(file, { readonly: true })
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal')
    } finally {
      db.close()
    }
  })

  it('works in memory', async () => {
    const store = await openStore('sqlite::memory:')
    await store.keyLearning.saveAll([full])
    expect(await store.keyLearning.loadAll()).toEqual([full])
    await store.close()
  })

  it('fails clearly when the path cannot be a database', async () => {
    await expect(openStore(`sqlite:${dir}`)).rejects.toThrow(`sqlite database ${dir}`)
  })
})

describe('store: postgres specifics', () => {
  it('fails clearly when ?schema= names a schema that does not exist', async () => {
    await expect(openStore(`${postgresUrl}?schema=sluice_test_missing_${randomBytes(4).toString('hex')}`)).rejects.toThrow(/schema .*does not exist/)
  })

  it('rejects a failed connection with where it tried, never the password', async () => {
    const err = await openStore('postgres://sluice:hunter2-secret@127.0.0.1:1/sluicedb').then(
      () => new Error('expected a rejection'),
      (e: unknown) => e as Error,
    )
    expect(err.message).toMatch(/could not connect to postgres at 127\.0\.0\.1:1\/sluicedb as sluice/)
    expect(err.message).not.toContain('hunter2')
  })

  let schema: string
  let admin: pg.Client
  beforeEach(async () => {
    schema = `sluice_test_${randomBytes(6).toString('hex')}`
    admin = new pg.Client({ connectionString: postgresUrl })
    await admin.connect()
    await admin.query(`CREATE SCHEMA ${schema}`)
  })
  afterEach(async () => {
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
    await admin.end()
  })

  it('returns BIGINT columns as numbers', async () => {
    const store = await openStore(`${postgresUrl}?schema=${schema}`)
    try {
      await store.keyLearning.saveAll([{ ...minimal, last429At: 2 ** 53 - 1, rpm429Count: 2 ** 40 }])
      const [got] = await store.keyLearning.loadAll()
      expect(got?.last429At).toBe(2 ** 53 - 1)
      expect(got?.rpm429Count).toBe(2 ** 40)
    } finally {
      await store.close()
    }
  })

  it('survives losing an idle connection: a warning, not a crash, and the next query reconnects', async () => {
    const warnings: string[] = []
    const store = await openStore(`${postgresUrl}?schema=${schema}&application_name=${schema}`, { onWarning: (msg) => warnings.push(msg) })
    try {
      await store.keyLearning.saveAll([full])
      await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [schema])
      await expect.poll(() => warnings, { timeout: 5_000 }).toHaveLength(1)
      expect(warnings[0]).toMatch(/^postgres at 127\.0\.0\.1:5432\/test as postgres \(schema sluice_test_\w+\): idle connection failed: /)
      expect(await store.keyLearning.loadAll()).toEqual([full])
    } finally {
      await store.close()
    }
  })
})

describe('store: the database setting', () => {
  it.each([
    ['mysql://x', /invalid database setting "mysql:\/\/x": unknown kind of database; expected sqlite:<path>.*postgres:\/\//],
    ['sqlite:', /invalid database setting "sqlite:": the sqlite path is empty/],
    ['garbage', /invalid database setting "garbage"/],
    ['', /invalid database setting ""/],
  ])('refuses %j clearly', async (url, message) => {
    await expect(openStore(url)).rejects.toThrow(message)
  })

  it('never quotes a password from a refused setting', async () => {
    const err = await openStore('postgress://admin:hunter2-secret@db.example/x').then(
      () => new Error('expected a rejection'),
      (e: unknown) => e as Error,
    )
    expect(err.message).toContain('postgress://admin:***@db.example/x')
    expect(err.message).not.toContain('hunter2')
  })
})

function sortById(records: readonly KeyLearning[]): KeyLearning[] {
  return [...records].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
}
