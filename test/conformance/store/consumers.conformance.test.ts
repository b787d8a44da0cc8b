import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import pg from 'pg'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { generateVirtualKey, hashVirtualKey } from '../../../src/core/virtual-keys/index.js'
import { StoreConflictError } from '../../../src/store/errors.js'
import { openStore } from '../../../src/store/open.js'
import type { ConsumerRow, Store, UsageFilter, UsageRecord, UsageTotals, VirtualKeyRow } from '../../../src/store/types.js'

// The consumer, virtual-key and usage ports, one body for every adapter: SQLite (a temp file)
// and Postgres (a fresh schema per test in the `test` database, as store.conformance does, so
// parallel runs never meet). Beside what each method does, this checks the values come back
// with the same types on both: Postgres hands BIGINT and SUM(BIGINT) over as strings unless the
// adapter converts them, and toStrictEqual alone would not always say which field was wrong.

const postgresUrl = process.env.SLUICE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

interface TestDatabase {
  readonly url: string
  /** Runs SQL directly against the database under test (search_path set on Postgres). */
  query(sql: string): Promise<Record<string, unknown>[]>
  dispose(): Promise<void>
}

interface Backend {
  readonly name: 'sqlite' | 'postgres'
  create(): Promise<TestDatabase>
}

const sqlite: Backend = {
  name: 'sqlite',
  async create() {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-consumers-'))
    const file = join(dir, 'sluice.db')
    return {
      url: `sqlite:${file}`,
      async query(sql) {
        const db = new Database(file)
        try {
          const stmt = db.prepare(sql)
          return stmt.reader ? (stmt.all() as Record<string, unknown>[]) : (stmt.run(), [])
        } finally {
          db.close()
        }
      },
      async dispose() {
        rmSync(dir, { recursive: true, force: true })
      },
    }
  },
}

const postgres: Backend = {
  name: 'postgres',
  async create() {
    const schema = `sluice_test_${randomBytes(6).toString('hex')}`
    const admin = new pg.Client({ connectionString: postgresUrl })
    await admin.connect()
    await admin.query(`CREATE SCHEMA ${schema}`)
    await admin.query(`SET search_path TO ${schema}`)
    return {
      url: `${postgresUrl}?schema=${schema}`,
      async query(sql) {
        return (await admin.query(sql)).rows as Record<string, unknown>[]
      },
      async dispose() {
        await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
        await admin.end()
      },
    }
  },
}

const t0 = 1_767_225_600_000
const keyFields = ['consumerId', 'createdAt', 'expiresAt', 'id', 'lastUsedAt', 'name', 'prefix', 'revokedAt']

function consumer(over: Partial<ConsumerRow> & Pick<ConsumerRow, 'id' | 'name'>): ConsumerRow {
  return { tier: 'basic', overrides: null, disabled: false, createdAt: t0, updatedAt: t0, ...over }
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

/** Every numeric field of a consumer is a number, every flag a boolean. */
function expectConsumerTypes(c: ConsumerRow | null | undefined): void {
  expect(c).toBeTruthy()
  expect(typeof c?.createdAt).toBe('number')
  expect(typeof c?.updatedAt).toBe('number')
  expect(typeof c?.disabled).toBe('boolean')
}

function expectKeyTypes(k: VirtualKeyRow | undefined): void {
  expect(k).toBeTruthy()
  expect(Object.keys(k ?? {}).sort()).toEqual(keyFields)
  expect(typeof k?.createdAt).toBe('number')
  for (const v of [k?.expiresAt, k?.revokedAt, k?.lastUsedAt]) expect(v === null || typeof v === 'number').toBe(true)
}

function expectUsageTypes(r: UsageRecord | undefined): void {
  expect(r).toBeTruthy()
  for (const f of ['at', 'status', 'costUsd', 'queueMs', 'latencyMs'] as const) expect(typeof r?.[f], f).toBe('number')
  for (const f of ['promptTokens', 'completionTokens'] as const) expect(r?.[f] === null || typeof r?.[f] === 'number', f).toBe(true)
  expect(typeof r?.partial).toBe('boolean')
}

function expectTotalsTypes(t: UsageTotals): void {
  for (const f of ['requests', 'promptTokens', 'completionTokens', 'costUsd'] as const) expect(typeof t[f], f).toBe('number')
}

/** The totals the store should report for these records, computed here. */
function totalsOf(records: readonly UsageRecord[]): UsageTotals {
  return {
    requests: records.length,
    promptTokens: records.reduce((s, r) => s + (r.promptTokens ?? 0), 0),
    completionTokens: records.reduce((s, r) => s + (r.completionTokens ?? 0), 0),
    costUsd: records.reduce((s, r) => s + r.costUsd, 0),
  }
}

/** Newest first, ties latest-appended first: the order query() promises. `all` is in append order. */
function newestFirst(all: readonly UsageRecord[], keep: (r: UsageRecord) => boolean): UsageRecord[] {
  return all
    .map((r, i) => ({ r, i }))
    .filter(({ r }) => keep(r))
    .sort((a, b) => b.r.at - a.r.at || b.i - a.i)
    .map(({ r }) => r)
}

function matches(f: UsageFilter): (r: UsageRecord) => boolean {
  return (r) =>
    (f.consumerId === undefined || r.consumerId === f.consumerId) &&
    (f.model === undefined || r.model === f.model) &&
    (f.from === undefined || r.at >= f.from) &&
    (f.to === undefined || r.at < f.to)
}

/**
 * 1,000 records over four consumers (one of them null), three models (one null) and a spread
 * of instants, with repeated instants so ties matter, and token counts whose sums pass 2^32.
 */
function thousand(): UsageRecord[] {
  const consumers = ['con_a', 'con_b', 'con_c', null]
  const models = ['gpt-4o', 'claude', null]
  return Array.from({ length: 1_000 }, (_, i) =>
    usage({
      at: t0 + Math.floor(i / 3) * 1_000,
      requestId: `r${i}`,
      consumerId: consumers[i % 4] ?? null,
      model: models[i % 3] ?? null,
      sessionId: i % 10 === 0 ? `s${i % 20}` : null,
      status: i % 17 === 0 ? 429 : 200,
      outcome: i % 17 === 0 ? 'rate_limited' : 'success',
      promptTokens: i % 11 === 0 ? null : 10_000_000 + i,
      completionTokens: i % 13 === 0 ? null : 2 * i,
      costUsd: (i % 7) * 0.012_5 + 0.000_1,
      queueMs: i % 5,
      latencyMs: 100 + i / 4,
      partial: i % 9 === 0,
      priority: i % 2 === 0 ? 'high' : null,
    }),
  )
}

describe.each([sqlite, postgres])('consumers, keys and usage conformance: $name', (backend) => {
  let db: TestDatabase
  let store: Store

  beforeEach(async () => {
    db = await backend.create()
    store = await openStore(db.url)
  })
  afterEach(async () => {
    await store.close()
    await db.dispose()
  })

  let keySeq = 0
  async function addKey(consumerId: string, over: Partial<VirtualKeyRow> = {}): Promise<{ row: VirtualKeyRow; secret: string; hash: string }> {
    const g = generateVirtualKey()
    const row: VirtualKeyRow = { id: `key_${String(++keySeq).padStart(4, '0')}`, consumerId, prefix: g.prefix, name: null, createdAt: t0, expiresAt: null, revokedAt: null, lastUsedAt: null, ...over }
    await store.virtualKeys.create(row, g.hash)
    return { row, secret: g.secret, hash: g.hash }
  }

  describe('consumers', () => {
    it('creates a consumer and reads it back by id and by name, with numbers and booleans typed', async () => {
      const alice = consumer({ id: 'con_a', name: 'alice', tier: 'premium', overrides: { rpm: 60 }, createdAt: t0 + 1, updatedAt: t0 + 2 })
      await store.consumers.create(alice)
      const byId = await store.consumers.get('con_a')
      const byName = await store.consumers.getByName('alice')
      expect(byId).toStrictEqual(alice)
      expect(byName).toStrictEqual(alice)
      expectConsumerTypes(byId)
      expect(await store.consumers.get('alice')).toBeNull()
      expect(await store.consumers.getByName('con_a')).toBeNull()
    })

    it('round-trips overrides as JSON exactly: nesting, nulls, unicode, quotes, fractions, an empty object', async () => {
      const overrides = {
        rpm: 600,
        tpm: 1_000_000_000_000,
        budget_usd: 12.345_678_9,
        budget_period: 'monthly',
        models: ['gpt-4o*', 'claude-3-5-sonnet', ''],
        priority: { default: 'normal', max: 'critical' },
        weight: 0.1 + 0.2,
        note: 'Zoë’s team — "quotes", back\\slash, newline\nand tab\t, emoji 🚀',
        nested: { deeper: { list: [1, null, true, false, { x: -0.5 }] } },
        nothing: null,
        empty_list: [],
      }
      await store.consumers.create(consumer({ id: 'con_a', name: 'alice', overrides }))
      await store.consumers.create(consumer({ id: 'con_b', name: 'bob', overrides: {} }))
      await store.consumers.create(consumer({ id: 'con_c', name: 'carol', overrides: null }))
      expect((await store.consumers.get('con_a'))?.overrides).toStrictEqual(overrides)
      expect((await store.consumers.get('con_b'))?.overrides).toStrictEqual({})
      expect((await store.consumers.get('con_c'))?.overrides).toBeNull()
    })

    it('refuses a duplicate name with StoreConflictError and stores nothing; names are case-sensitive', async () => {
      await store.consumers.create(consumer({ id: 'con_a', name: 'alice' }))
      const err = await store.consumers.create(consumer({ id: 'con_b', name: 'alice', tier: 'other' })).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(StoreConflictError)
      expect(err).toMatchObject({ reason: 'exists', target: 'consumers.name' })
      expect(await store.consumers.get('con_b')).toBeNull()
      expect((await store.consumers.getByName('alice'))?.id).toBe('con_a')
      expect(await store.consumers.count()).toBe(1)
      // The store is still usable, and a name differing only in case is another name on both databases.
      await store.consumers.create(consumer({ id: 'con_c', name: 'Alice' }))
      expect((await store.consumers.getByName('Alice'))?.id).toBe('con_c')
      expect(await store.consumers.count()).toBe(2)
    })

    it('lists every consumer by name, in the same (byte) order on every database', async () => {
      const names = ['bob', 'alice', 'Zed', 'a-b', 'a_b', 'a.b', 'a@b', '0day', 'Alice', 'alice2']
      for (const [i, name] of names.entries()) await store.consumers.create(consumer({ id: `con_${i}`, name }))
      const listed = await store.consumers.list()
      expect(listed.map((c) => c.name)).toEqual([...names].sort())
      for (const c of listed) expectConsumerTypes(c)
      expect(listed.find((c) => c.name === 'a@b')).toStrictEqual(consumer({ id: 'con_6', name: 'a@b' }))
    })

    it('counts consumers: 0 when empty, as a number', async () => {
      expect(await store.consumers.count()).toBe(0)
      expect(await store.consumers.list()).toEqual([])
      for (let i = 0; i < 5; i++) await store.consumers.create(consumer({ id: `con_${i}`, name: `n${i}` }))
      const n = await store.consumers.count()
      expect(n).toBe(5)
      expect(typeof n).toBe('number')
      await store.consumers.delete('con_3')
      expect(await store.consumers.count()).toBe(4)
    })

    it('updates each field on its own, leaving the others, and returns what it stored', async () => {
      const base = consumer({ id: 'con_a', name: 'alice', tier: 'basic', overrides: { rpm: 1 }, createdAt: t0 - 5 })
      await store.consumers.create(base)
      await store.consumers.create(consumer({ id: 'con_z', name: 'zoe' }))
      let expected: ConsumerRow = base
      const steps: [Parameters<Store['consumers']['update']>[1], Partial<ConsumerRow>][] = [
        [{ name: 'alicia' }, { name: 'alicia' }],
        [{ tier: 'premium' }, { tier: 'premium' }],
        [{ tier: null }, { tier: null }],
        [{ overrides: { tpm: 5, models: ['a', 'b'], priority: { max: 'high' } } }, { overrides: { tpm: 5, models: ['a', 'b'], priority: { max: 'high' } } }],
        [{ overrides: null }, { overrides: null }],
        [{ overrides: {} }, { overrides: {} }],
        [{ disabled: true }, { disabled: true }],
        [{ disabled: false }, { disabled: false }],
        [{ name: 'alicia' }, {}], // renaming to its own name is no conflict
        [{}, {}],
      ]
      for (const [i, [patch, change]] of steps.entries()) {
        const at = t0 + 100 + i
        expected = { ...expected, ...change, updatedAt: at }
        const got = await store.consumers.update('con_a', patch, at)
        expect(got, JSON.stringify(patch)).toStrictEqual(expected)
        expectConsumerTypes(got)
        expect(await store.consumers.get('con_a')).toStrictEqual(expected)
      }
      expect(await store.consumers.getByName('alice')).toBeNull()
      expect((await store.consumers.getByName('alicia'))?.createdAt).toBe(t0 - 5)
      // The other consumer never moved.
      expect(await store.consumers.get('con_z')).toStrictEqual(consumer({ id: 'con_z', name: 'zoe' }))
    })

    it('update: null for a missing consumer, StoreConflictError for a taken name (and nothing changes)', async () => {
      await store.consumers.create(consumer({ id: 'con_a', name: 'alice' }))
      await store.consumers.create(consumer({ id: 'con_b', name: 'bob' }))
      expect(await store.consumers.update('con_missing', { name: 'x' }, t0 + 1)).toBeNull()
      expect(await store.consumers.getByName('x')).toBeNull()
      const err = await store.consumers.update('con_b', { name: 'alice', tier: null, disabled: true }, t0 + 1).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(StoreConflictError)
      expect(err).toMatchObject({ reason: 'exists' })
      expect(await store.consumers.get('con_b')).toStrictEqual(consumer({ id: 'con_b', name: 'bob' }))
    })

    it('delete removes the consumer and its keys, keeps its usage records, and says whether it found one', async () => {
      await store.consumers.create(consumer({ id: 'con_a', name: 'alice' }))
      await store.consumers.create(consumer({ id: 'con_b', name: 'bob' }))
      const a1 = await addKey('con_a')
      const a2 = await addKey('con_a', { revokedAt: t0 })
      const b1 = await addKey('con_b')
      await store.usage.appendBatch([
        usage({ requestId: 'a-1', consumerId: 'con_a', costUsd: 1.5, keyPrefix: a1.row.prefix }),
        usage({ requestId: 'a-2', consumerId: 'con_a', costUsd: 0.25, at: t0 + 1 }),
        usage({ requestId: 'b-1', consumerId: 'con_b', costUsd: 4 }),
      ])
      expect(await store.consumers.delete('con_a')).toBe(true)
      expect(await store.consumers.get('con_a')).toBeNull()
      expect(await store.consumers.getByName('alice')).toBeNull()
      expect(await store.consumers.count()).toBe(1)
      expect(await store.virtualKeys.findByHash(a1.hash)).toBeNull()
      expect(await store.virtualKeys.findByHash(a2.hash)).toBeNull()
      expect(await store.virtualKeys.list('con_a')).toEqual([])
      expect(await store.virtualKeys.list()).toStrictEqual([b1.row])
      expect((await db.query('SELECT id FROM virtual_keys')).map((r) => r.id)).toEqual([b1.row.id])
      // The ledger keeps the deleted consumer's records.
      const left = await store.usage.query({ consumerId: 'con_a', limit: 10, offset: 0 })
      expect(left.records.map((r) => r.requestId)).toEqual(['a-2', 'a-1'])
      expect(left.totals).toStrictEqual({ requests: 2, promptTokens: 20, completionTokens: 40, costUsd: 1.75 })
      expect(await store.usage.spentSince('con_a', 0)).toBe(1.75)
      // Once only.
      expect(await store.consumers.delete('con_a')).toBe(false)
      expect(await store.consumers.delete('con_never')).toBe(false)
      // The name is free again.
      await store.consumers.create(consumer({ id: 'con_a2', name: 'alice' }))
      expect(await store.virtualKeys.list('con_a2')).toEqual([])
    })
  })

  describe('virtualKeys', () => {
    it('creates a key; findByHash returns it with its consumer, typed', async () => {
      const alice = consumer({ id: 'con_a', name: 'alice', overrides: { weight: 2 } })
      await store.consumers.create(alice)
      const k = await addKey('con_a', { name: 'laptop', createdAt: t0 + 7, expiresAt: t0 + 86_400_000 })
      const found = await store.virtualKeys.findByHash(k.hash)
      expect(found).toStrictEqual({ key: k.row, consumer: alice })
      expectKeyTypes(found?.key)
      expectConsumerTypes(found?.consumer)
      expect(found?.key.expiresAt).toBe(t0 + 86_400_000)
    })

    it('findByHash returns revoked, expired and used keys of disabled consumers, with those fields', async () => {
      await store.consumers.create(consumer({ id: 'con_a', name: 'alice', tier: null, overrides: { rpm: 3 } }))
      const expired = await addKey('con_a', { name: 'old', expiresAt: t0 - 1 })
      const revoked = await addKey('con_a', { name: 'gone' })
      const used = await addKey('con_a')
      const [r] = await store.virtualKeys.revoke(revoked.row.id, t0 + 5)
      expect(r).toStrictEqual({ ...revoked.row, revokedAt: t0 + 5 })
      await store.virtualKeys.touchLastUsed([used.row.id], t0 + 9)
      const disabled = await store.consumers.update('con_a', { disabled: true }, t0 + 6)
      expect(disabled?.disabled).toBe(true)

      const e = await store.virtualKeys.findByHash(expired.hash)
      expect(e).toStrictEqual({ key: expired.row, consumer: disabled })
      expect(typeof e?.key.expiresAt).toBe('number')
      const rv = await store.virtualKeys.findByHash(revoked.hash)
      expect(rv).toStrictEqual({ key: { ...revoked.row, revokedAt: t0 + 5 }, consumer: disabled })
      expect(typeof rv?.key.revokedAt).toBe('number')
      const u = await store.virtualKeys.findByHash(used.hash)
      expect(u?.key.lastUsedAt).toBe(t0 + 9)
      expect(typeof u?.key.lastUsedAt).toBe('number')
      expect(u?.consumer).toStrictEqual(disabled)
    })

    it('findByHash: null for an unknown hash, a non-hash, or the key itself', async () => {
      await store.consumers.create(consumer({ id: 'con_a', name: 'alice' }))
      const k = await addKey('con_a')
      expect(await store.virtualKeys.findByHash(hashVirtualKey(generateVirtualKey().secret))).toBeNull()
      expect(await store.virtualKeys.findByHash(k.secret)).toBeNull()
      expect(await store.virtualKeys.findByHash('')).toBeNull()
      expect(await store.virtualKeys.findByHash(`${k.hash.slice(0, 63)}`)).toBeNull()
      expect(await store.virtualKeys.findByHash(`${k.hash}0`)).toBeNull()
      expect(await store.virtualKeys.findByHash("' OR 1=1 --")).toBeNull()
    })

    it('lists newest first, ties by id, per consumer or all; never a hash', async () => {
      await store.consumers.create(consumer({ id: 'con_a', name: 'alice' }))
      await store.consumers.create(consumer({ id: 'con_b', name: 'bob' }))
      const a1 = await addKey('con_a', { id: 'key_a1', createdAt: t0 + 1 })
      const b1 = await addKey('con_b', { id: 'key_b1', createdAt: t0 + 2, name: 'ci', expiresAt: t0 + 50 })
      const a3 = await addKey('con_a', { id: 'key_a3', createdAt: t0 + 3 })
      const a2 = await addKey('con_a', { id: 'key_a2', createdAt: t0 + 3 })
      const all = await store.virtualKeys.list()
      expect(all).toStrictEqual([a2.row, a3.row, b1.row, a1.row])
      expect(await store.virtualKeys.list('con_a')).toStrictEqual([a2.row, a3.row, a1.row])
      expect(await store.virtualKeys.list('con_b')).toStrictEqual([b1.row])
      expect(await store.virtualKeys.list('con_none')).toEqual([])
      const hashes = [a1, b1, a2, a3].map((k) => k.hash)
      for (const row of [...all, ...(await store.virtualKeys.list('con_a'))]) {
        expectKeyTypes(row)
        expect(Object.keys(row)).not.toContain('hash')
        for (const h of hashes) expect(JSON.stringify(row)).not.toContain(h)
      }
    })

    it('revokes by id: returns the revoked row once, then []', async () => {
      await store.consumers.create(consumer({ id: 'con_a', name: 'alice' }))
      const a = await addKey('con_a', { name: 'a' })
      const b = await addKey('con_a', { name: 'b' })
      const first = await store.virtualKeys.revoke(a.row.id, t0 + 10)
      expect(first).toStrictEqual([{ ...a.row, revokedAt: t0 + 10 }])
      expectKeyTypes(first[0])
      expect(await store.virtualKeys.revoke(a.row.id, t0 + 20)).toStrictEqual([])
      // The first revocation's instant stays; the other key is untouched.
      const byId = new Map((await store.virtualKeys.list()).map((k) => [k.id, k]))
      expect(byId.get(a.row.id)?.revokedAt).toBe(t0 + 10)
      expect(byId.get(b.row.id)).toStrictEqual(b.row)
      expect(await store.virtualKeys.revoke('key_unknown', t0)).toStrictEqual([])
    })

    it('revokes by prefix: returns the revoked row once, then []', async () => {
      await store.consumers.create(consumer({ id: 'con_a', name: 'alice' }))
      const a = await addKey('con_a', { prefix: 'sk-sluice-Pre1' })
      const b = await addKey('con_a', { prefix: 'sk-sluice-Pre2' })
      const first = await store.virtualKeys.revoke('sk-sluice-Pre1', t0 + 10)
      expect(first).toStrictEqual([{ ...a.row, revokedAt: t0 + 10 }])
      expectKeyTypes(first[0])
      expect(Object.keys(first[0] ?? {})).not.toContain('hash')
      expect(await store.virtualKeys.revoke('sk-sluice-Pre1', t0 + 20)).toStrictEqual([])
      expect((await store.virtualKeys.findByHash(a.hash))?.key.revokedAt).toBe(t0 + 10)
      expect((await store.virtualKeys.findByHash(b.hash))?.key.revokedAt).toBeNull()
      // Only a whole prefix matches.
      expect(await store.virtualKeys.revoke('sk-sluice-Pre', t0)).toStrictEqual([])
      expect(await store.virtualKeys.revoke('sk-sluice-', t0)).toStrictEqual([])
      expect((await store.virtualKeys.findByHash(b.hash))?.key.revokedAt).toBeNull()
    })

    it('refuses an ambiguous prefix without revoking anything', async () => {
      await store.consumers.create(consumer({ id: 'con_a', name: 'alice' }))
      await store.consumers.create(consumer({ id: 'con_b', name: 'bob' }))
      await addKey('con_a', { prefix: 'sk-sluice-Dupe' })
      await addKey('con_b', { prefix: 'sk-sluice-Dupe' })
      const err = await store.virtualKeys.revoke('sk-sluice-Dupe', t0).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(StoreConflictError)
      expect(err).toMatchObject({ reason: 'ambiguous' })
      expect((await store.virtualKeys.list()).every((k) => k.revokedAt === null)).toBe(true)
    })

    it('touchLastUsed sets many keys in one call, ignores unknown ids, never moves back', async () => {
      await store.consumers.create(consumer({ id: 'con_a', name: 'alice' }))
      const keys = []
      for (let i = 0; i < 40; i++) keys.push(await addKey('con_a'))
      const ids = keys.map((k) => k.row.id)
      await store.virtualKeys.touchLastUsed([], t0 + 1)
      expect((await store.virtualKeys.list()).every((k) => k.lastUsedAt === null)).toBe(true)
      await store.virtualKeys.touchLastUsed([...ids.slice(0, 30), 'key_nope', "it's"], t0 + 100)
      await store.virtualKeys.touchLastUsed(ids.slice(10, 20), t0 + 50)
      await store.virtualKeys.touchLastUsed(ids.slice(20, 35), t0 + 200)
      const used = new Map((await store.virtualKeys.list()).map((k) => [k.id, k.lastUsedAt]))
      ids.forEach((id, i) => {
        const want = i < 20 ? t0 + 100 : i < 35 ? t0 + 200 : null
        expect(used.get(id), id).toBe(want)
      })
      expect(typeof used.get(ids[0] ?? '')).toBe('number')
      // Touching changes nothing else.
      expect((await store.virtualKeys.findByHash(keys[0]?.hash ?? ''))?.key).toStrictEqual({ ...keys[0]?.row, lastUsedAt: t0 + 100 })
    })
  })

  describe('usage', () => {
    it('appends 1,000 records in one call and reads every one back exactly, newest first', async () => {
      const all = thousand()
      await store.usage.appendBatch(all)
      const { records, totals } = await store.usage.query({ limit: 5_000, offset: 0 })
      expect(records).toHaveLength(1_000)
      expect(records).toStrictEqual(newestFirst(all, () => true))
      for (const r of records.slice(0, 50)) expectUsageTypes(r)
      const want = totalsOf(all)
      expect(totals.requests).toBe(1_000)
      expect(totals.promptTokens).toBe(want.promptTokens)
      expect(totals.promptTokens).toBeGreaterThan(2 ** 32)
      expect(totals.completionTokens).toBe(want.completionTokens)
      expect(totals.costUsd).toBeCloseTo(want.costUsd, 9)
      expectTotalsTypes(totals)
    })

    it.each<[string, UsageFilter]>([
      ['one consumer', { consumerId: 'con_b' }],
      ['one model', { model: 'claude' }],
      ['a consumer and a model', { consumerId: 'con_a', model: 'gpt-4o' }],
      ['a time range (from inclusive, to exclusive)', { from: t0 + 100_000, to: t0 + 200_000 }],
      ['from only', { from: t0 + 300_000 }],
      ['to only', { to: t0 + 5_000 }],
      ['everything at once', { consumerId: 'con_c', model: 'gpt-4o', from: t0 + 10_000, to: t0 + 250_000 }],
      ['nothing matches', { consumerId: 'con_nobody' }],
      ['an empty range', { from: t0 + 5_000, to: t0 + 5_000 }],
    ])('filters by %s, newest first, with totals over every match', async (_name, filter) => {
      const all = thousand()
      await store.usage.appendBatch(all)
      const want = newestFirst(all, matches(filter))
      const { records, totals } = await store.usage.query({ ...filter, limit: 10_000, offset: 0 })
      expect(records).toStrictEqual(want)
      const sums = totalsOf(want)
      expect({ ...totals, costUsd: 0 }).toStrictEqual({ ...sums, costUsd: 0 })
      expect(totals.costUsd).toBeCloseTo(sums.costUsd, 9)
      expectTotalsTypes(totals)
      // The totals cover every match, not the page.
      const page = await store.usage.query({ ...filter, limit: 3, offset: 0 })
      expect(page.records).toStrictEqual(want.slice(0, 3))
      expect(page.totals.requests).toBe(want.length)
    })

    it('pages with limit and offset: pages join into the whole, past the end is empty, the totals stay', async () => {
      const all = thousand()
      await store.usage.appendBatch(all)
      const want = newestFirst(all, matches({ consumerId: 'con_a' }))
      const pages: UsageRecord[] = []
      for (let offset = 0; offset < want.length; offset += 37) {
        const p = await store.usage.query({ consumerId: 'con_a', limit: 37, offset })
        expect(p.totals.requests).toBe(want.length)
        pages.push(...p.records)
      }
      expect(pages).toStrictEqual(want)
      const past = await store.usage.query({ consumerId: 'con_a', limit: 10, offset: want.length })
      expect(past.records).toEqual([])
      expect(past.totals.requests).toBe(want.length)
      const none = await store.usage.query({ limit: 0, offset: 0 })
      expect(none.records).toEqual([])
      expect(none.totals.requests).toBe(1_000)
      expect((await store.usage.query({ limit: -5, offset: -5 })).records).toEqual([])
      expect((await store.usage.query({ limit: 5, offset: -5 })).records).toStrictEqual(newestFirst(all, () => true).slice(0, 5))
    })

    it('orders records of the same instant latest-appended first, across batches', async () => {
      await store.usage.appendBatch([usage({ requestId: 'x1' }), usage({ requestId: 'x2' })])
      await store.usage.appendBatch([usage({ requestId: 'x3' }), usage({ requestId: 'older', at: t0 - 1 }), usage({ requestId: 'newer', at: t0 + 1 })])
      const { records } = await store.usage.query({ limit: 10, offset: 0 })
      expect(records.map((r) => r.requestId)).toEqual(['newer', 'x3', 'x2', 'x1', 'older'])
    })

    it('session(): one session, oldest first, ties in append order, limited', async () => {
      const all = thousand()
      await store.usage.appendBatch(all)
      await store.usage.appendBatch([usage({ at: t0 - 10, requestId: 's0-first', sessionId: 's0' }), usage({ at: t0, requestId: 's0-tie', sessionId: 's0' })])
      const withTie = [...all.filter((r) => r.sessionId === 's0'), usage({ at: t0 - 10, requestId: 's0-first' }), usage({ at: t0, requestId: 's0-tie' })]
      // Oldest first; a record appended later comes after one of the same instant appended earlier.
      const order = withTie
        .map((r, i) => ({ r, i }))
        .sort((a, b) => a.r.at - b.r.at || a.i - b.i)
        .map(({ r }) => r.requestId)
      expect(order).toHaveLength(52)
      const session = await store.usage.session('s0')
      expect(session.map((r) => r.requestId)).toEqual(order)
      expect(order[0]).toBe('s0-first')
      expect(order.indexOf('s0-tie')).toBe(order.indexOf('r0') + 1)
      for (const r of session) {
        expect(r.sessionId).toBe('s0')
        expectUsageTypes(r)
      }
      expect(session.find((r) => r.requestId === 'r20')).toStrictEqual(all[20])
      expect((await store.usage.session('s0', 3)).map((r) => r.requestId)).toEqual(order.slice(0, 3))
      expect(await store.usage.session('s0', 0)).toEqual([])
      expect(await store.usage.session('no-such-session')).toEqual([])
    })

    it('daily(): totals per UTC day and consumer, oldest day first, consumers in id order with none last, filtered', async () => {
      const day = 86_400_000
      // Four days (t0 is a UTC midnight), a record on each edge of a day, three consumers and none.
      const records = [
        usage({ requestId: 'd0-a', consumerId: 'con_a', at: t0, costUsd: 0.25, promptTokens: 5_000_000_000, completionTokens: 1 }),
        usage({ requestId: 'd0-a-last', consumerId: 'con_a', at: t0 + day - 1, costUsd: 0.5, promptTokens: null, completionTokens: 2 }),
        usage({ requestId: 'd0-none', consumerId: null, at: t0 + 10 }),
        usage({ requestId: 'd0-B', consumerId: 'con_B', at: t0 + 20, model: 'claude' }),
        usage({ requestId: 'd1-a', consumerId: 'con_a', at: t0 + day, costUsd: 1 }),
        usage({ requestId: 'd3-b', consumerId: 'con_b', at: t0 + 3 * day + 5, model: 'claude' }),
        usage({ requestId: 'before', consumerId: 'con_a', at: t0 - 1 }),
      ]
      await store.usage.appendBatch(records)
      const want = (f: UsageFilter) => {
        const groups = new Map<string, UsageRecord[]>()
        for (const r of records.filter(matches(f))) {
          const key = `${Math.floor(r.at / day) * day}|${r.consumerId ?? ''}`
          groups.set(key, [...(groups.get(key) ?? []), r])
        }
        return [...groups].map(([key, rs]) => ({ day: Number(key.split('|')[0]), consumerId: rs[0]?.consumerId ?? null, ...totalsOf(rs) }))
      }
      const all = await store.usage.daily({})
      expect(all.map((d) => [d.day - t0, d.consumerId])).toEqual([
        [-day, 'con_a'],
        [0, 'con_B'],
        [0, 'con_a'],
        [0, null],
        [day, 'con_a'],
        [3 * day, 'con_b'],
      ])
      for (const [name, f] of [
        ['everything', {}],
        ['one consumer', { consumerId: 'con_a' }],
        ['one model', { model: 'claude' }],
        ['a range of days', { from: t0, to: t0 + 2 * day }],
        ['nothing', { consumerId: 'nobody' }],
      ] as const) {
        const got = await store.usage.daily(f)
        const sorted = want(f).sort((a, b) => a.day - b.day || (a.consumerId === null ? 1 : b.consumerId === null ? -1 : a.consumerId < b.consumerId ? -1 : 1))
        expect(got.map((d) => ({ ...d, costUsd: 0 })), name).toStrictEqual(sorted.map((d) => ({ ...d, costUsd: 0 })))
        got.forEach((d, i) => {
          expectTotalsTypes(d)
          expect(typeof d.day).toBe('number')
          expect(d.costUsd).toBeCloseTo(sorted[i]?.costUsd ?? NaN, 9)
        })
      }
      // Sums past 2^32 stay exact.
      expect((await store.usage.daily({ consumerId: 'con_a', from: t0, to: t0 + day }))[0]?.promptTokens).toBe(5_000_000_000)
    })

    it('spentSince(): a consumer’s cost at or after an instant, as a number', async () => {
      const all = thousand()
      await store.usage.appendBatch(all)
      for (const [consumerId, since] of [
        ['con_a', 0],
        ['con_a', t0 + 150_000],
        ['con_b', t0 + 333_000],
        ['con_c', t0 + 10_000_000],
      ] as const) {
        const want = all.filter((r) => r.consumerId === consumerId && r.at >= since).reduce((s, r) => s + r.costUsd, 0)
        const got = await store.usage.spentSince(consumerId, since)
        expect(typeof got).toBe('number')
        expect(got).toBeCloseTo(want, 9)
      }
      // The instant itself counts.
      await store.usage.appendBatch([usage({ consumerId: 'con_edge', at: t0 + 42, costUsd: 0.5 }), usage({ consumerId: 'con_edge', at: t0 + 41, costUsd: 8 })])
      expect(await store.usage.spentSince('con_edge', t0 + 42)).toBe(0.5)
      expect(await store.usage.spentSince('con_edge', t0 + 43)).toBe(0)
      expect(await store.usage.spentSince('nobody', 0)).toBe(0)
    })

    it('prune(): removes only records older than the instant and says how many, as a number', async () => {
      const all = thousand()
      await store.usage.appendBatch(all)
      const before = t0 + 200_000
      const older = all.filter((r) => r.at < before)
      expect(older.length).toBeGreaterThan(0)
      const n = await store.usage.prune(before)
      expect(typeof n).toBe('number')
      expect(n).toBe(older.length)
      const { records, totals } = await store.usage.query({ limit: 10_000, offset: 0 })
      expect(records).toStrictEqual(newestFirst(all, (r) => r.at >= before))
      expect(records.at(-1)?.at).toBe(before)
      expect(totals.requests).toBe(1_000 - older.length)
      expect(await store.usage.prune(before)).toBe(0)
      expect(await store.usage.prune(0)).toBe(0)
      expect(await store.usage.prune(t0 + 10_000_000)).toBe(1_000 - older.length)
      expect((await store.usage.query({ limit: 1, offset: 0 })).totals).toStrictEqual({ requests: 0, promptTokens: 0, completionTokens: 0, costUsd: 0 })
    })

    it('stores a text value Postgres cannot hold (a NUL in a client-sent model name) rather than failing the batch', async () => {
      // `model` is whatever the client put in its JSON body, and "\u0000" is valid JSON.
      await store.usage.appendBatch([usage({ requestId: 'nul', model: 'gpt-4o\u0000evil', sessionId: 's\u0000', priority: '\u0000' }), usage({ requestId: 'fine' })])
      const { records } = await store.usage.query({ limit: 10, offset: 0 })
      expect(records.map((r) => r.requestId).sort()).toEqual(['fine', 'nul'])
      const odd = records.find((r) => r.requestId === 'nul')
      expect(odd?.model).toMatch(/^gpt-4o.?evil$/)
      expect(odd?.model).not.toContain('\u0000')
      expect(odd?.sessionId).not.toContain('\u0000')
      // Filters holding the same value find it (and do not fail).
      expect((await store.usage.query({ model: 'gpt-4o\u0000evil', limit: 10, offset: 0 })).records.map((r) => r.requestId)).toEqual(['nul'])
      expect((await store.usage.session('s\u0000')).map((r) => r.requestId)).toEqual(['nul'])
    })

    it('keeps large token counts and instants exact, as numbers', async () => {
      const big = 2 ** 50
      await store.usage.appendBatch([
        usage({ requestId: 'b1', at: 2 ** 52, promptTokens: big, completionTokens: big + 1, consumerId: 'con_big' }),
        usage({ requestId: 'b2', at: 2 ** 52 + 1, promptTokens: big, completionTokens: 1, consumerId: 'con_big' }),
      ])
      const { records, totals } = await store.usage.query({ consumerId: 'con_big', limit: 10, offset: 0 })
      expect(records.map((r) => [r.at, r.promptTokens, r.completionTokens])).toEqual([
        [2 ** 52 + 1, big, 1],
        [2 ** 52, big, big + 1],
      ])
      expect(totals).toMatchObject({ requests: 2, promptTokens: 2 * big, completionTokens: big + 2 })
      expectTotalsTypes(totals)
      for (const r of records) expectUsageTypes(r)
    })
  })
})

describe('consumers conformance: postgres with a non-C collation', () => {
  // The `test` database here is C.UTF-8, but many servers are created en_US.UTF-8, where text
  // compares case-insensitively first. The list order must not depend on that.
  let db: TestDatabase
  let store: Store
  beforeEach(async () => {
    db = await postgres.create()
    store = await openStore(db.url)
    await db.query('ALTER TABLE consumers ALTER COLUMN name TYPE text COLLATE "en-x-icu"')
  })
  afterEach(async () => {
    await store.close()
    await db.dispose()
  })

  it('lists consumers in the byte order SQLite uses', async () => {
    const names = ['bob', 'alice', 'Zed', 'a_b', 'a-b', 'Alice']
    for (const [i, name] of names.entries()) await store.consumers.create(consumer({ id: `con_${i}`, name }))
    expect((await store.consumers.list()).map((c) => c.name)).toEqual([...names].sort())
  })
})
