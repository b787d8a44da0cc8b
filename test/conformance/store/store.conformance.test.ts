import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import pg from 'pg'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { generateVirtualKey, hashVirtualKey, virtualKeyPrefixLength } from '../../../src/core/virtual-keys/index.js'
import { StoreConflictError } from '../../../src/store/errors.js'
import { migrations } from '../../../src/store/migrations/index.js'
import { openStore } from '../../../src/store/open.js'
import type { ConsumerRow, KeyLearning, Store, UsageRecord, VirtualKeyRow } from '../../../src/store/types.js'

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

    it('create the consumers, virtual_keys and usage_records tables', async () => {
      await openIt()
      expect(await db.raw.columns('consumers')).toEqual(['id', 'name', 'tier', 'overrides_json', 'disabled', 'created_at', 'updated_at'])
      expect(await db.raw.columns('virtual_keys')).toEqual(['id', 'consumer_id', 'prefix', 'hash', 'name', 'created_at', 'expires_at', 'revoked_at', 'last_used_at'])
      expect(await db.raw.columns('usage_records')).toEqual([
        'id',
        'at',
        'request_id',
        'consumer_id',
        'key_prefix',
        'session_id',
        'model',
        'deployment',
        'status',
        'outcome',
        'prompt_tokens',
        'completion_tokens',
        'cost_usd',
        'queue_ms',
        'latency_ms',
        'partial',
        'priority',
      ])
    })
  })

  describe('consumers', () => {
    it('round-trips a consumer, overrides included, and finds it by id and by name', async () => {
      const store = await openIt()
      const alice = consumer({ id: 'con_a', name: 'alice', overrides: { rpm: 10, models: ['gpt-*'], priority: { max: 'high' }, budget_usd: null } })
      const bob = consumer({ id: 'con_b', name: 'bob', tier: null, overrides: null, disabled: true })
      await store.consumers.create(bob)
      await store.consumers.create(alice)
      expect(await store.consumers.get('con_a')).toStrictEqual(alice)
      expect(await store.consumers.getByName('bob')).toStrictEqual(bob)
      expect(await store.consumers.get('con_missing')).toBeNull()
      expect(await store.consumers.getByName('carol')).toBeNull()
      expect(await store.consumers.list()).toStrictEqual([alice, bob])
      expect(await store.consumers.count()).toBe(2)
    })

    it('refuses a taken name or id with a StoreConflictError that says which', async () => {
      const store = await openIt()
      await store.consumers.create(consumer({ id: 'con_a', name: 'alice' }))
      const byName = await store.consumers.create(consumer({ id: 'con_b', name: 'alice' })).catch((e: unknown) => e)
      expect(byName).toBeInstanceOf(StoreConflictError)
      expect(byName).toMatchObject({ reason: 'exists', target: 'consumers.name', message: 'a consumer named "alice" exists already' })
      const byId = await store.consumers.create(consumer({ id: 'con_a', name: 'other' })).catch((e: unknown) => e)
      expect(byId).toMatchObject({ reason: 'exists', message: 'a consumer with id "con_a" exists already' })
      expect(await store.consumers.count()).toBe(1)
    })

    it('updates only the fields a patch names, and can clear tier and overrides', async () => {
      const store = await openIt()
      const alice = consumer({ id: 'con_a', name: 'alice', tier: 'premium', overrides: { rpm: 5 } })
      await store.consumers.create(alice)
      expect(await store.consumers.update('con_a', {}, t0 + 1)).toStrictEqual({ ...alice, updatedAt: t0 + 1 })
      expect(await store.consumers.update('con_a', { disabled: true, overrides: { tpm: 9 } }, t0 + 2)).toStrictEqual({
        ...alice,
        disabled: true,
        overrides: { tpm: 9 },
        updatedAt: t0 + 2,
      })
      expect(await store.consumers.update('con_a', { name: 'alicia', tier: null, overrides: null, disabled: false }, t0 + 3)).toStrictEqual({
        ...alice,
        name: 'alicia',
        tier: null,
        overrides: null,
        updatedAt: t0 + 3,
      })
      expect(await store.consumers.getByName('alice')).toBeNull()
      expect(await store.consumers.update('con_missing', { disabled: true }, t0)).toBeNull()
    })

    it('refuses a rename to a taken name and changes nothing', async () => {
      const store = await openIt()
      await store.consumers.create(consumer({ id: 'con_a', name: 'alice' }))
      await store.consumers.create(consumer({ id: 'con_b', name: 'bob' }))
      await expect(store.consumers.update('con_b', { name: 'alice', disabled: true }, t0 + 1)).rejects.toMatchObject({ reason: 'exists', message: 'a consumer named "alice" exists already' })
      expect(await store.consumers.get('con_b')).toStrictEqual(consumer({ id: 'con_b', name: 'bob' }))
    })

    it('deletes a consumer with its keys but keeps its usage records', async () => {
      const store = await openIt()
      await store.consumers.create(consumer({ id: 'con_a', name: 'alice' }))
      await store.consumers.create(consumer({ id: 'con_b', name: 'bob' }))
      const a = await addKey(store, 'con_a')
      const b = await addKey(store, 'con_b')
      await store.usage.appendBatch([usage({ consumerId: 'con_a', costUsd: 2 })])
      expect(await store.consumers.delete('con_a')).toBe(true)
      expect(await store.consumers.delete('con_a')).toBe(false)
      expect(await store.consumers.get('con_a')).toBeNull()
      expect(await store.virtualKeys.findByHash(a.hash)).toBeNull()
      expect(await store.virtualKeys.list('con_a')).toEqual([])
      expect((await store.virtualKeys.findByHash(b.hash))?.consumer.id).toBe('con_b')
      expect(await store.usage.spentSince('con_a', 0)).toBe(2)
      expect(await db.raw.query('SELECT id FROM virtual_keys')).toEqual([{ id: b.row.id }])
    })
  })

  describe('virtualKeys', () => {
    it('finds a key by its hash, with its consumer, in one call', async () => {
      const store = await openIt()
      const alice = consumer({ id: 'con_a', name: 'alice', overrides: { weight: 3 } })
      await store.consumers.create(alice)
      const k = await addKey(store, 'con_a', { name: 'laptop', expiresAt: t0 + 86_400_000 })
      expect(await store.virtualKeys.findByHash(k.hash)).toStrictEqual({ key: k.row, consumer: alice })
      expect(await store.virtualKeys.findByHash(hashVirtualKey('sk-sluice-unknown'))).toBeNull()
      expect(await store.virtualKeys.findByHash('not a hash')).toBeNull()
      expect(await store.virtualKeys.findByHash(k.hash.toUpperCase())).toBeNull()
    })

    it('still finds revoked and expired keys and disabled consumers, with the fields that say so', async () => {
      const store = await openIt()
      await store.consumers.create(consumer({ id: 'con_a', name: 'alice' }))
      const expired = await addKey(store, 'con_a', { expiresAt: t0 - 1 })
      const revoked = await addKey(store, 'con_a')
      await store.virtualKeys.revoke(revoked.row.id, t0 + 5)
      await store.consumers.update('con_a', { disabled: true }, t0 + 6)
      const e = await store.virtualKeys.findByHash(expired.hash)
      expect(e?.key.expiresAt).toBe(t0 - 1)
      expect(e?.key.revokedAt).toBeNull()
      expect(e?.consumer.disabled).toBe(true)
      const r = await store.virtualKeys.findByHash(revoked.hash)
      expect(r?.key.revokedAt).toBe(t0 + 5)
    })

    it('never stores or returns the key, and lists never carry the hash', async () => {
      const store = await openIt()
      await store.consumers.create(consumer({ id: 'con_a', name: 'alice' }))
      const k = await addKey(store, 'con_a')
      const everything = JSON.stringify(await db.raw.query('SELECT * FROM virtual_keys'))
      expect(everything).not.toContain(k.secret)
      expect(everything).not.toContain(k.secret.slice(virtualKeyPrefixLength))
      const listed = [...(await store.virtualKeys.list()), ...(await store.virtualKeys.list('con_a')), ...(await store.virtualKeys.revoke(k.row.id, t0))]
      expect(listed).toHaveLength(3)
      for (const row of listed) {
        expect(Object.keys(row).sort()).toEqual(['consumerId', 'createdAt', 'expiresAt', 'id', 'lastUsedAt', 'name', 'prefix', 'revokedAt'])
        expect(JSON.stringify(row)).not.toContain(k.hash)
        expect(JSON.stringify(row)).not.toContain(k.secret)
      }
    })

    it('refuses the key itself where its hash or prefix belongs', async () => {
      const store = await openIt()
      await store.consumers.create(consumer({ id: 'con_a', name: 'alice' }))
      const g = generateVirtualKey()
      const row = keyRow({ id: 'key_1', consumerId: 'con_a', prefix: g.prefix })
      await expect(store.virtualKeys.create(row, g.secret)).rejects.toThrow(/hash must be 64 lowercase hex/)
      await expect(store.virtualKeys.create({ ...row, prefix: g.secret }, g.hash)).rejects.toThrow(/prefix must be at most 16/)
      expect(await store.virtualKeys.list()).toEqual([])
    })

    it('refuses a key for a missing consumer, and a taken hash or id', async () => {
      const store = await openIt()
      await store.consumers.create(consumer({ id: 'con_a', name: 'alice' }))
      const g = generateVirtualKey()
      await expect(store.virtualKeys.create(keyRow({ id: 'key_1', consumerId: 'con_nobody', prefix: g.prefix }), g.hash)).rejects.toMatchObject({
        reason: 'missing',
        message: 'no consumer with id "con_nobody"',
      })
      await store.virtualKeys.create(keyRow({ id: 'key_1', consumerId: 'con_a', prefix: g.prefix }), g.hash)
      const sameHash = await store.virtualKeys.create(keyRow({ id: 'key_2', consumerId: 'con_a', prefix: g.prefix }), g.hash).catch((e: unknown) => e as Error)
      expect(sameHash).toMatchObject({ reason: 'exists', target: 'virtual_keys.hash', message: 'a virtual key with this hash exists already' })
      expect(JSON.stringify({ message: (sameHash as Error).message })).not.toContain(g.hash)
      const other = generateVirtualKey()
      await expect(store.virtualKeys.create(keyRow({ id: 'key_1', consumerId: 'con_a', prefix: other.prefix }), other.hash)).rejects.toMatchObject({ reason: 'exists', message: 'a virtual key with id "key_1" exists already' })
    })

    it('lists every key or one consumer’s, newest first', async () => {
      const store = await openIt()
      await store.consumers.create(consumer({ id: 'con_a', name: 'alice' }))
      await store.consumers.create(consumer({ id: 'con_b', name: 'bob' }))
      const a1 = await addKey(store, 'con_a', { createdAt: t0 + 1 })
      const b1 = await addKey(store, 'con_b', { createdAt: t0 + 2 })
      const a2 = await addKey(store, 'con_a', { createdAt: t0 + 3 })
      expect(await store.virtualKeys.list()).toStrictEqual([a2.row, b1.row, a1.row])
      expect(await store.virtualKeys.list('con_a')).toStrictEqual([a2.row, a1.row])
      expect(await store.virtualKeys.list('con_nobody')).toEqual([])
    })

    it('revokes by id or by prefix, once', async () => {
      const store = await openIt()
      await store.consumers.create(consumer({ id: 'con_a', name: 'alice' }))
      const a = await addKey(store, 'con_a')
      const b = await addKey(store, 'con_a')
      expect(await store.virtualKeys.revoke(a.row.id, t0 + 10)).toStrictEqual([{ ...a.row, revokedAt: t0 + 10 }])
      expect(await store.virtualKeys.revoke(a.row.id, t0 + 20)).toEqual([])
      expect((await store.virtualKeys.findByHash(a.hash))?.key.revokedAt).toBe(t0 + 10)
      expect(await store.virtualKeys.revoke(b.row.prefix, t0 + 30)).toStrictEqual([{ ...b.row, revokedAt: t0 + 30 }])
      expect(await store.virtualKeys.revoke(b.row.prefix, t0 + 40)).toEqual([])
      expect(await store.virtualKeys.revoke('sk-sluice-none', t0)).toEqual([])
    })

    it('refuses a prefix two active keys share, and revokes the one active key when the other is revoked', async () => {
      const store = await openIt()
      await store.consumers.create(consumer({ id: 'con_a', name: 'alice' }))
      await store.consumers.create(consumer({ id: 'con_b', name: 'bob' }))
      const a = await addKey(store, 'con_a', { prefix: 'sk-sluice-Same' })
      const b = await addKey(store, 'con_b', { prefix: 'sk-sluice-Same' })
      const err = await store.virtualKeys.revoke('sk-sluice-Same', t0).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(StoreConflictError)
      expect(err).toMatchObject({ reason: 'ambiguous', message: '2 active keys start with sk-sluice-Same: revoke one by its id' })
      expect((await store.virtualKeys.list()).map((k) => k.revokedAt)).toEqual([null, null])
      await store.virtualKeys.revoke(a.row.id, t0 + 1)
      expect(await store.virtualKeys.revoke('sk-sluice-Same', t0 + 2)).toStrictEqual([{ ...b.row, revokedAt: t0 + 2 }])
    })

    it('touches last-used times in one call, never moving one back', async () => {
      const store = await openIt()
      await store.consumers.create(consumer({ id: 'con_a', name: 'alice' }))
      const a = await addKey(store, 'con_a')
      const b = await addKey(store, 'con_a')
      const c = await addKey(store, 'con_a')
      await store.virtualKeys.touchLastUsed([], t0)
      await store.virtualKeys.touchLastUsed([a.row.id, b.row.id, 'key_unknown'], t0 + 100)
      await store.virtualKeys.touchLastUsed([a.row.id], t0 + 50)
      await store.virtualKeys.touchLastUsed([b.row.id], t0 + 200)
      const used = new Map((await store.virtualKeys.list()).map((k) => [k.id, k.lastUsedAt]))
      expect(used.get(a.row.id)).toBe(t0 + 100)
      expect(used.get(b.row.id)).toBe(t0 + 200)
      expect(used.get(c.row.id)).toBeNull()
    })
  })

  describe('usage', () => {
    it('appends a batch and reads it back exactly, newest first', async () => {
      const store = await openIt()
      const full = usage({
        at: t0 + 2,
        requestId: 'req-full',
        consumerId: 'con_a',
        keyPrefix: 'sk-sluice-AbCd',
        sessionId: 'sess-1',
        model: 'gpt-4o-mini',
        deployment: 'openai/oa-1/gpt-4o-mini',
        status: 200,
        outcome: 'success',
        promptTokens: 12,
        completionTokens: 34,
        costUsd: 0.000_123_45,
        queueMs: 1.25,
        latencyMs: 456.78,
        partial: true,
        priority: 'high',
      })
      const bare = usage({ at: t0 + 1, requestId: 'req-bare', consumerId: null, keyPrefix: null, sessionId: null, model: null, deployment: null, status: 401, outcome: 'refused', promptTokens: null, completionTokens: null, costUsd: 0, queueMs: 0, latencyMs: 0.5, partial: false, priority: null })
      await store.usage.appendBatch([bare, full])
      const { records, totals } = await store.usage.query({ limit: 10, offset: 0 })
      expect(records).toStrictEqual([full, bare])
      expect(totals).toStrictEqual({ requests: 2, promptTokens: 12, completionTokens: 34, costUsd: 0.000_123_45 })
    })

    it('appends nothing for an empty batch, and totals are zero when nothing matches', async () => {
      const store = await openIt()
      await store.usage.appendBatch([])
      expect(await store.usage.query({ limit: 10, offset: 0 })).toStrictEqual({ records: [], totals: { requests: 0, promptTokens: 0, completionTokens: 0, costUsd: 0 } })
    })

    it('stores values it cannot store as given rather than failing the batch', async () => {
      const store = await openIt()
      await store.usage.appendBatch([usage({ requestId: 'odd', at: t0 + 0.6, promptTokens: 10.4, completionTokens: Number.NaN, costUsd: Number.POSITIVE_INFINITY, status: 200.2 }), usage({ requestId: 'fine' })])
      const { records } = await store.usage.query({ limit: 10, offset: 0 })
      expect(records.find((r) => r.requestId === 'odd')).toMatchObject({ at: t0 + 1, promptTokens: 10, completionTokens: null, costUsd: 0, status: 200 })
      expect(records).toHaveLength(2)
    })

    it('appends 1,000 records in one call, and 12,001 across statement chunks', async () => {
      const store = await openIt()
      const thousand = Array.from({ length: 1_000 }, (_, i) => usage({ at: t0 + i, requestId: `r${i}`, promptTokens: i, completionTokens: 2 * i, costUsd: 0.001 }))
      await store.usage.appendBatch(thousand)
      let { totals } = await store.usage.query({ limit: 0, offset: 0 })
      expect(totals.requests).toBe(1_000)
      expect(totals.promptTokens).toBe(499_500)
      expect(totals.completionTokens).toBe(999_000)
      expect(totals.costUsd).toBeCloseTo(1, 9)
      const many = Array.from({ length: 12_001 }, (_, i) => usage({ at: t0 + 10_000 + i, requestId: `m${i}` }))
      await store.usage.appendBatch(many)
      ;({ totals } = await store.usage.query({ limit: 0, offset: 0 }))
      expect(totals.requests).toBe(13_001)
      const last = await store.usage.query({ limit: 2, offset: 0 })
      expect(last.records.map((r) => r.requestId)).toEqual(['m12000', 'm11999'])
    })

    it('filters by consumer, model and time range, pages, and totals everything that matches', async () => {
      const store = await openIt()
      await store.usage.appendBatch([
        usage({ at: t0, requestId: '1', consumerId: 'a', model: 'm1', promptTokens: 1, completionTokens: 10, costUsd: 0.5 }),
        usage({ at: t0 + 10, requestId: '2', consumerId: 'a', model: 'm2', promptTokens: 2, completionTokens: 20, costUsd: 0.25 }),
        usage({ at: t0 + 20, requestId: '3', consumerId: 'b', model: 'm1', promptTokens: 4, completionTokens: 40, costUsd: 1 }),
        usage({ at: t0 + 30, requestId: '4', consumerId: 'a', model: 'm1', promptTokens: 8, completionTokens: 80, costUsd: 2 }),
        usage({ at: t0 + 40, requestId: '5', consumerId: 'a', model: 'm1', promptTokens: null, completionTokens: null, costUsd: 0 }),
      ])
      const ids = async (q: Parameters<Store['usage']['query']>[0]) => {
        const r = await store.usage.query(q)
        return { ids: r.records.map((x) => x.requestId), totals: r.totals }
      }
      expect(await ids({ consumerId: 'a', limit: 10, offset: 0 })).toStrictEqual({ ids: ['5', '4', '2', '1'], totals: { requests: 4, promptTokens: 11, completionTokens: 110, costUsd: 2.75 } })
      expect(await ids({ consumerId: 'a', model: 'm1', limit: 10, offset: 0 })).toStrictEqual({ ids: ['5', '4', '1'], totals: { requests: 3, promptTokens: 9, completionTokens: 90, costUsd: 2.5 } })
      expect((await ids({ from: t0 + 10, to: t0 + 30, limit: 10, offset: 0 })).ids).toEqual(['3', '2'])
      expect((await ids({ model: 'm1', from: t0 + 20, limit: 10, offset: 0 })).ids).toEqual(['5', '4', '3'])
      const paged = await ids({ limit: 2, offset: 1 })
      expect(paged.ids).toEqual(['4', '3'])
      expect(paged.totals.requests).toBe(5)
      expect((await ids({ limit: 10, offset: 0, consumerId: 'nobody' })).totals).toStrictEqual({ requests: 0, promptTokens: 0, completionTokens: 0, costUsd: 0 })
    })

    it('lists a session’s requests oldest first, ties in append order, and sums sessions', async () => {
      const store = await openIt()
      await store.usage.appendBatch([
        usage({ at: t0 + 30, requestId: 's1-c', sessionId: 's1', costUsd: 1 }),
        usage({ at: t0 + 10, requestId: 's1-a', sessionId: 's1', costUsd: 2 }),
        usage({ at: t0 + 10, requestId: 's1-b', sessionId: 's1', costUsd: 3 }),
        usage({ at: t0 + 20, requestId: 's2-a', sessionId: 's2', costUsd: 4 }),
        usage({ at: t0 + 40, requestId: 'none', sessionId: null }),
      ])
      await store.usage.appendBatch([usage({ at: t0 + 5, requestId: 's2-late', sessionId: 's2', promptTokens: 7, completionTokens: 9, costUsd: 5 })])
      expect((await store.usage.session('s1')).map((r) => r.requestId)).toEqual(['s1-a', 's1-b', 's1-c'])
      expect((await store.usage.session('s2')).map((r) => r.requestId)).toEqual(['s2-late', 's2-a'])
      expect((await store.usage.session('s1', 2)).map((r) => r.requestId)).toEqual(['s1-a', 's1-b'])
      expect(await store.usage.session('nope')).toEqual([])
      const sessions = await store.usage.sessions({ limit: 10, offset: 0 })
      expect(sessions).toStrictEqual([
        { sessionId: 's1', requests: 3, promptTokens: 30, completionTokens: 60, costUsd: 6, firstAt: t0 + 10, lastAt: t0 + 30 },
        { sessionId: 's2', requests: 2, promptTokens: 17, completionTokens: 29, costUsd: 9, firstAt: t0 + 5, lastAt: t0 + 20 },
      ])
      expect((await store.usage.sessions({ from: t0 + 25, limit: 10, offset: 0 })).map((s) => s.sessionId)).toEqual(['s1'])
      expect((await store.usage.sessions({ limit: 1, offset: 1 })).map((s) => s.sessionId)).toEqual(['s2'])
    })

    it('sums what a consumer spent since an instant, for budgets', async () => {
      const store = await openIt()
      await store.usage.appendBatch([
        usage({ at: t0 - 1, consumerId: 'a', costUsd: 100 }),
        usage({ at: t0, consumerId: 'a', costUsd: 0.125 }),
        usage({ at: t0 + 5, consumerId: 'a', costUsd: 0.25, partial: true }),
        usage({ at: t0 + 5, consumerId: 'b', costUsd: 7 }),
      ])
      expect(await store.usage.spentSince('a', t0)).toBe(0.375)
      expect(await store.usage.spentSince('a', 0)).toBe(100.375)
      expect(await store.usage.spentSince('a', t0 + 6)).toBe(0)
      expect(await store.usage.spentSince('nobody', 0)).toBe(0)
      expect(typeof (await store.usage.spentSince('a', t0))).toBe('number')
    })

    it('prunes records older than an instant, in chunks, and says how many', async () => {
      const store = await openIt()
      const old = Array.from({ length: 12_345 }, (_, i) => usage({ at: t0 - 1 - (i % 1000), requestId: `old${i}` }))
      await store.usage.appendBatch([...old, usage({ at: t0, requestId: 'edge' }), usage({ at: t0 + 1, requestId: 'new' })])
      expect(await store.usage.prune(t0)).toBe(12_345)
      expect((await store.usage.query({ limit: 10, offset: 0 })).records.map((r) => r.requestId)).toEqual(['new', 'edge'])
      expect(await store.usage.prune(t0)).toBe(0)
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
      await expect(store.consumers.list()).rejects.toThrow(/closed/)
      await expect(store.virtualKeys.findByHash(hashVirtualKey('k'))).rejects.toThrow(/closed/)
      await expect(store.usage.appendBatch([usage()])).rejects.toThrow(/closed/)
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

const t0 = 1_767_225_600_000

function consumer(over: Partial<ConsumerRow> = {}): ConsumerRow {
  return { id: 'con_x', name: 'x', tier: 'basic', overrides: null, disabled: false, createdAt: t0, updatedAt: t0, ...over }
}

function keyRow(over: Partial<VirtualKeyRow> & Pick<VirtualKeyRow, 'id' | 'consumerId' | 'prefix'>): VirtualKeyRow {
  return { name: null, createdAt: t0, expiresAt: null, revokedAt: null, lastUsedAt: null, ...over }
}

let keySeq = 0

/** Creates a key for a consumer the way the admin API does: a fresh secret, only its hash stored. */
async function addKey(store: Store, consumerId: string, over: Partial<VirtualKeyRow> = {}): Promise<{ row: VirtualKeyRow; secret: string; hash: string }> {
  const g = generateVirtualKey()
  const row = keyRow({ id: `key_${++keySeq}`, consumerId, prefix: g.prefix, ...over })
  await store.virtualKeys.create(row, g.hash)
  return { row, secret: g.secret, hash: g.hash }
}

function usage(over: Partial<UsageRecord> = {}): UsageRecord {
  return {
    at: t0,
    requestId: 'req',
    consumerId: 'con_a',
    keyPrefix: 'sk-sluice-AbCd',
    sessionId: null,
    model: 'gpt-4o-mini',
    deployment: 'openai/oa-1',
    status: 200,
    outcome: 'success',
    promptTokens: 10,
    completionTokens: 20,
    costUsd: 0.001,
    queueMs: 0,
    latencyMs: 100,
    partial: false,
    priority: 'normal',
    ...over,
  }
}

function sortById(records: readonly KeyLearning[]): KeyLearning[] {
  return [...records].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
}
