import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ConsumerInputError, createConsumer, createKey } from '../../../src/consumers/service.js'
import { hashVirtualKey, looksLikeVirtualKey, virtualKeyPrefixLength } from '../../../src/core/virtual-keys/index.js'
import { StoreConflictError } from '../../../src/store/errors.js'
import { openStore } from '../../../src/store/open.js'
import type { Store } from '../../../src/store/types.js'

// The checks the admin API and `sluice keys` share, against a real (in-memory SQLite) store.

const now = 1_767_225_600_000
const tiers = new Set(['basic', 'premium'])

let store: Store
beforeEach(async () => {
  store = await openStore('sqlite::memory:')
})
afterEach(async () => {
  await store.close()
})

/** The ConsumerInputError a call rejects with (fails the test when it resolves or throws something else). */
async function inputError(p: Promise<unknown>): Promise<ConsumerInputError> {
  const err = await p.then(
    () => new Error('expected a rejection'),
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(ConsumerInputError)
  return err as ConsumerInputError
}

describe('createConsumer', () => {
  it.each([
    'a',
    'Z',
    '0',
    'alice',
    'Team.Alpha',
    'ci-bot_2',
    'ops@example.com',
    'a-',
    'a.',
    'x'.repeat(128),
  ])('accepts the name %j', async (name) => {
    const row = await createConsumer(store, tiers, { name, tier: 'basic' }, now)
    expect(row.name).toBe(name)
    expect(await store.consumers.getByName(name)).toStrictEqual(row)
  })

  it.each([
    ['empty', ''],
    ['starting with -', '-alice'],
    ['starting with .', '.alice'],
    ['starting with _', '_alice'],
    ['starting with @', '@alice'],
    ['with a space', 'alice smith'],
    ['with a slash', 'a/b'],
    ['with a colon', 'a:b'],
    ['with a quote', 'a"b'],
    ['non-ASCII', 'zoë'],
    ['a trailing newline', 'alice\n'],
    ['a NUL', 'alice\u0000'],
    ['129 characters', 'x'.repeat(129)],
    ['8 KB', 'x'.repeat(8_192)],
  ])('refuses a name %s, storing nothing', async (_what, name) => {
    const err = await inputError(createConsumer(store, tiers, { name, tier: 'basic' }, now))
    expect(err.field).toBe('name')
    expect(err.name).toBe('ConsumerInputError')
    expect(err.message).toMatch(/1 to 128 letters, digits and \. _ @ -/)
    expect(await store.consumers.count()).toBe(0)
  })

  it('refuses an unknown tier, naming the tiers there are', async () => {
    const err = await inputError(createConsumer(store, tiers, { name: 'alice', tier: 'gold' }, now))
    expect(err.field).toBe('tier')
    expect(err.message).toBe('unknown tier "gold" (the config has basic, premium)')
    const none = await inputError(createConsumer(store, new Set(), { name: 'alice', tier: 'basic' }, now))
    expect(none.message).toBe('unknown tier "basic" (the config has none)')
    expect(await store.consumers.count()).toBe(0)
  })

  it('tier names are exact: no case folding', async () => {
    expect((await inputError(createConsumer(store, tiers, { name: 'alice', tier: 'Basic' }, now))).field).toBe('tier')
  })

  it('accepts no tier at all', async () => {
    const row = await createConsumer(store, new Set(), { name: 'alice', tier: null }, now)
    expect(row.tier).toBeNull()
  })

  it('refuses a name that exists already, and leaves the first alone', async () => {
    const first = await createConsumer(store, tiers, { name: 'alice', tier: 'basic' }, now)
    const err = await inputError(createConsumer(store, tiers, { name: 'alice', tier: 'premium' }, now + 1))
    expect(err.field).toBe('name')
    expect(err.message).toBe('a consumer named "alice" exists already')
    expect(await store.consumers.list()).toStrictEqual([first])
  })

  it('checks the name before the tier', async () => {
    expect((await inputError(createConsumer(store, tiers, { name: ' bad', tier: 'gold' }, now))).field).toBe('name')
  })

  it('two creations of one name at once: one wins, the other is refused by the store', async () => {
    const results = await Promise.allSettled([createConsumer(store, tiers, { name: 'alice', tier: 'basic' }, now), createConsumer(store, tiers, { name: 'alice', tier: 'basic' }, now)])
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1)
    const refused = results.find((r) => r.status === 'rejected')
    expect(refused?.status === 'rejected' && (refused.reason instanceof StoreConflictError || refused.reason instanceof ConsumerInputError)).toBe(true)
    expect(await store.consumers.count()).toBe(1)
  })

  it('stores and returns a fresh row: con_ id, the time given, enabled, overrides as passed', async () => {
    const overrides = { rpm: 30, models: ['gpt-4o*'], priority: { max: 'high' } }
    const a = await createConsumer(store, tiers, { name: 'alice', tier: 'premium', overrides }, now)
    const b = await createConsumer(store, tiers, { name: 'bob', tier: 'basic' }, now + 5)
    expect(a).toStrictEqual({ id: a.id, name: 'alice', tier: 'premium', overrides, disabled: false, createdAt: now, updatedAt: now })
    expect(a.id).toMatch(/^con_[0-9a-f-]{36}$/)
    expect(b.id).not.toBe(a.id)
    expect(b.overrides).toBeNull()
    expect(b.createdAt).toBe(now + 5)
    expect(await store.consumers.get(a.id)).toStrictEqual(a)
    expect(await store.consumers.get(b.id)).toStrictEqual(b)
  })
})

describe('createKey', () => {
  async function alice() {
    return createConsumer(store, tiers, { name: 'alice', tier: 'basic' }, now)
  }

  it('creates a key that is found by its hash, with its consumer', async () => {
    const c = await alice()
    const { secret, key } = await createKey(store, c.id, { name: 'laptop', expiresAt: now + 86_400_000 }, now)
    expect(looksLikeVirtualKey(secret)).toBe(true)
    expect(key).toStrictEqual({
      id: key.id,
      consumerId: c.id,
      prefix: secret.slice(0, virtualKeyPrefixLength),
      name: 'laptop',
      createdAt: now,
      expiresAt: now + 86_400_000,
      revokedAt: null,
      lastUsedAt: null,
    })
    expect(key.id).toMatch(/^key_[0-9a-f-]{36}$/)
    expect(await store.virtualKeys.findByHash(hashVirtualKey(secret))).toStrictEqual({ key, consumer: c })
    expect(await store.virtualKeys.list(c.id)).toStrictEqual([key])
  })

  it('defaults to no name and no expiry', async () => {
    const c = await alice()
    const { key } = await createKey(store, c.id, {}, now)
    expect(key.name).toBeNull()
    expect(key.expiresAt).toBeNull()
    const explicit = await createKey(store, c.id, { name: null, expiresAt: null }, now)
    expect(explicit.key.name).toBeNull()
    expect(explicit.key.expiresAt).toBeNull()
  })

  it('never returns the same key twice', async () => {
    const c = await alice()
    const a = await createKey(store, c.id, {}, now)
    const b = await createKey(store, c.id, {}, now)
    expect(a.secret).not.toBe(b.secret)
    expect(a.key.id).not.toBe(b.key.id)
    expect(await store.virtualKeys.list(c.id)).toHaveLength(2)
  })

  it.each([
    ['in the past', now - 1],
    ['now', now],
    ['long ago', 0],
  ])('refuses an expiry %s and stores nothing', async (_what, expiresAt) => {
    const c = await alice()
    const err = await inputError(createKey(store, c.id, { expiresAt }, now))
    expect(err.field).toBe('expires_at')
    expect(err.message).toBe('the expiry must be in the future')
    expect(await store.virtualKeys.list()).toEqual([])
  })

  it('accepts an expiry one millisecond ahead', async () => {
    const c = await alice()
    expect((await createKey(store, c.id, { expiresAt: now + 1 }, now)).key.expiresAt).toBe(now + 1)
  })

  it('refuses a key for a consumer that does not exist', async () => {
    await expect(createKey(store, 'con_nobody', {}, now)).rejects.toMatchObject({ reason: 'missing' })
    expect(await store.virtualKeys.list()).toEqual([])
  })
})
