import { createHash, randomUUID } from 'node:crypto'
import OpenAI from 'openai'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SluiceConfigInput } from '../../../src/config/schema.js'
import { leakNeedles, postgresDatabase, type TestDatabase } from '../../support/consumers.js'
import type { Reply } from '../../support/data-plane.js'
import { startStack, type Stack } from '../../support/harness.js'
import { adminClient, adminKey, createdJson, eventually, expectError, okJson } from './support.js'

// Consumers, virtual keys and the usage ledger through the admin API, as an operator uses them:
// every change reaches the data plane on the very next request, a key's secret is shown once
// and never again, and what the ledger recorded can be read back with its totals. The whole
// flow runs on SQLite and once more on Postgres; the refusals run on SQLite.

const upstreamKey = 'sk-sim-consumers-api-3b8e51d0c7a4'
const price = { input: 2, output: 6 }

const gatewayConfig = (simUrl: string, database?: string): SluiceConfigInput => ({
  providers: { sim: { type: 'openai', base_url: `${simUrl}/v1`, keys: [{ id: 'k1', key: upstreamKey }] } },
  models: {
    'test-model': { targets: [{ provider: 'sim', model: 'sim-model' }] },
    'other-model': { targets: [{ provider: 'sim', model: 'sim-other' }] },
  },
  tiers: { basic: { models: ['test-model'], rpm: 1000 }, premium: { models: ['*'] } },
  pricing: { 'sim-model': price, 'sim-other': price },
  admin: { keys: [adminKey] },
  ...(database === undefined ? {} : { database }),
})

interface ConsumerJson {
  id: string
  name: string
  tier: string | null
  overrides: Record<string, unknown> | null
  disabled: boolean
  created_at: string
  updated_at: string
}

interface CreatedKeyJson {
  key: string
  id: string
  consumer_id: string
  prefix: string
  name: string | null
  created_at: string
  expires_at: string | null
}

interface KeyJson {
  id: string
  consumer_id: string
  consumer?: string
  prefix: string
  name: string | null
  state: string
  created_at: string
  expires_at: string | null
  revoked_at: string | null
  last_used_at: string | null
}

interface RecordJson {
  at: string
  request_id: string
  consumer_id: string | null
  key_prefix: string | null
  session_id: string | null
  model: string | null
  deployment: string | null
  status: number
  outcome: string
  priority: string | null
  prompt_tokens: number | null
  completion_tokens: number | null
  cost_usd: number
  queue_ms: number
  latency_ms: number
  partial: boolean
}

interface Totals {
  requests: number
  prompt_tokens: number
  completion_tokens: number
  cost_usd: number
}

interface UsageJson {
  records: RecordJson[]
  totals: Totals
  limit: number
  offset: number
  has_more: boolean
}

const isoPattern = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/

function sumOf(records: readonly RecordJson[]): Totals {
  return {
    requests: records.length,
    prompt_tokens: records.reduce((n, r) => n + (r.prompt_tokens ?? 0), 0),
    completion_tokens: records.reduce((n, r) => n + (r.completion_tokens ?? 0), 0),
    cost_usd: records.reduce((n, r) => n + r.cost_usd, 0),
  }
}

/** A client that sends `key`, as a consumer's application would. */
const clientOf = (stack: Stack, key: string): OpenAI => new OpenAI({ baseURL: stack.baseURL, apiKey: key, maxRetries: 0 })

async function chatWith(client: OpenAI, model = 'test-model', session?: string): Promise<OpenAI.Chat.Completions.ChatCompletion> {
  return client.chat.completions.create(
    { model, messages: [{ role: 'user', content: 'hello from the admin tests' }], max_tokens: 3 },
    session === undefined ? {} : { headers: { 'X-Session-ID': session } },
  )
}

/** The status and error code the client raised, or 200. */
async function outcome(work: Promise<unknown>): Promise<{ status: number; code: string | null }> {
  try {
    await work
    return { status: 200, code: null }
  } catch (err) {
    if (err instanceof OpenAI.APIError) return { status: err.status ?? 0, code: (err.code as string | null | undefined) ?? null }
    throw err
  }
}

const backends: { name: string; open(): Promise<TestDatabase | null> }[] = [
  { name: 'SQLite', open: async () => null },
  { name: 'Postgres', open: () => postgresDatabase('admin_consumers') },
]

for (const backend of backends) {
  describe(`admin API: consumer, key and usage flow on ${backend.name}`, () => {
    let opening: Promise<TestDatabase | null>
    let stack: Stack
    const replies: Reply[] = []
    const admin = adminClient(() => stack.gw.url, replies)
    let consumer: ConsumerJson
    let created: CreatedKeyJson
    const session = `sess-${randomUUID()}`

    beforeAll(async () => {
      opening = backend.open()
      opening.catch(() => undefined)
      const db = await opening
      stack = await startStack({ gateway: (simUrl) => gatewayConfig(simUrl, db?.url) })
      expect(stack.gw.store.kind).toBe(backend.name === 'SQLite' ? 'sqlite' : 'postgres')
    })
    afterAll(async () => {
      await stack?.close()
      await opening?.then((db) => db?.drop(), () => undefined)
    })

    it('before any consumer exists, the data plane needs no key; the first consumer created makes it required at once', async () => {
      expect((await chatWith(clientOf(stack, 'anything'))).choices).toHaveLength(1)
      consumer = createdJson<ConsumerJson>(await admin('/api/admin/consumers', { method: 'POST', body: { name: 'team-a', tier: 'basic' } }))
      expect(consumer).toMatchObject({ name: 'team-a', tier: 'basic', overrides: null, disabled: false })
      expect(consumer.id).toMatch(/^con_/)
      expect(consumer.created_at).toMatch(isoPattern)
      expect(await outcome(chatWith(clientOf(stack, 'anything')))).toEqual({ status: 401, code: 'invalid_api_key' })
    })

    it('the consumer reads back, alone and in the list', async () => {
      expect(okJson(await admin(`/api/admin/consumers/${consumer.id}`))).toEqual(consumer)
      expect(okJson(await admin('/api/admin/consumers'))).toEqual({ object: 'list', data: [consumer] })
    })

    it('a new key is shown once, works on the data plane at once, and lists show its prefix only', async () => {
      created = createdJson<CreatedKeyJson>(await admin(`/api/admin/consumers/${consumer.id}/keys`, { method: 'POST', body: { name: 'ci', expires_in: '30d' } }))
      expect(Object.keys(created).sort()).toEqual(['consumer_id', 'created_at', 'expires_at', 'id', 'key', 'name', 'prefix'])
      expect(created.key).toMatch(/^sk-sluice-/)
      expect(created.key.startsWith(created.prefix)).toBe(true)
      expect(created).toMatchObject({ consumer_id: consumer.id, name: 'ci' })
      const lifetime = Date.parse(created.expires_at as string) - Date.parse(created.created_at)
      expect(lifetime).toBe(30 * 86_400_000)

      const answer = await chatWith(clientOf(stack, created.key))
      expect(answer.choices[0]?.message.content).toBeTypeOf('string')

      const own = okJson<{ object: string; data: KeyJson[] }>(await admin(`/api/admin/consumers/${consumer.id}/keys`))
      const all = okJson<{ object: string; data: KeyJson[] }>(await admin('/api/admin/keys'))
      const expected = { id: created.id, consumer_id: consumer.id, consumer: 'team-a', prefix: created.prefix, name: 'ci', state: 'active', created_at: created.created_at, expires_at: created.expires_at, revoked_at: null }
      expect(own.data).toHaveLength(1)
      expect(own.data[0]).toMatchObject(expected)
      expect(all.data).toHaveLength(1)
      expect(all.data[0]).toMatchObject(expected)
      const hash = createHash('sha256').update(created.key).digest('hex')
      const needles = [...leakNeedles(created.key, created.prefix), hash]
      for (const reply of [...replies.slice(-2)]) for (const n of needles) expect(reply.text).not.toContain(n)
    })

    it('the usage of a session reads back in order, with totals, by consumer, model, time and page', async () => {
      const client = clientOf(stack, created.key)
      const before = Date.now()
      for (let i = 0; i < 4; i++) await chatWith(client, 'test-model', session)
      // The ledger writes about once a second: wait for the records, with a deadline.
      const usagePath = `/api/admin/usage?consumer=${consumer.id}&model=test-model&from=${before}`
      const usage = await eventually(async () => okJson<UsageJson>(await admin(usagePath)), (u) => u.records.length >= 4)
      expect(usage.records).toHaveLength(4)
      for (const r of usage.records) {
        expect(r).toMatchObject({ consumer_id: consumer.id, key_prefix: created.prefix, session_id: session, model: 'test-model', status: 200, outcome: 'success', partial: false })
        expect(r.at).toMatch(isoPattern)
        expect(r.prompt_tokens).toBeGreaterThan(0)
        expect(r.completion_tokens).toBe(3)
        expect(r.cost_usd).toBeCloseTo(((r.prompt_tokens ?? 0) * price.input + 3 * price.output) / 1e6, 12)
      }
      expect(usage.totals.requests).toBe(4)
      expect(usage.totals.prompt_tokens).toBe(sumOf(usage.records).prompt_tokens)
      expect(usage.totals.completion_tokens).toBe(12)
      expect(usage.totals.cost_usd).toBeCloseTo(sumOf(usage.records).cost_usd, 12)
      // Newest first.
      const ats = usage.records.map((r) => Date.parse(r.at))
      expect([...ats].sort((a, b) => b - a)).toEqual(ats)

      // The consumer's name works where its id does; a page keeps the totals of everything.
      const byName = okJson<UsageJson>(await admin(`/api/admin/usage?consumer=team-a&from=${new Date(before).toISOString()}&limit=2&offset=1`))
      expect(byName.records.map((r) => r.request_id)).toEqual(usage.records.slice(1, 3).map((r) => r.request_id))
      expect(byName).toMatchObject({ totals: usage.totals, limit: 2, offset: 1, has_more: true })
      expect(okJson<UsageJson>(await admin(`/api/admin/usage?consumer=${consumer.id}&model=other-model`)).records).toEqual([])
      const later = new Date(Date.now() + 60_000).toISOString()
      expect(okJson<UsageJson>(await admin(`/api/admin/usage?consumer=${consumer.id}&from=${encodeURIComponent(later)}`)).totals.requests).toBe(0)

      const one = okJson<{ session_id: string; records: RecordJson[]; totals: Totals; truncated: boolean }>(await admin(`/api/admin/sessions/${encodeURIComponent(session)}`))
      expect(one.session_id).toBe(session)
      expect(one.records.map((r) => r.request_id)).toEqual([...usage.records].reverse().map((r) => r.request_id))
      expect(one.totals).toEqual({ ...sumOf(one.records), cost_usd: one.totals.cost_usd })
      expect(one.totals.cost_usd).toBeCloseTo(usage.totals.cost_usd, 12)
      expect(one.truncated).toBe(false)

      const sessions = okJson<{ data: { session_id: string; requests: number; first_at: string; last_at: string }[] }>(await admin(`/api/admin/sessions?consumer=${consumer.id}`))
      expect(sessions.data.find((s) => s.session_id === session)).toMatchObject({ requests: 4, first_at: one.records[0]?.at, last_at: one.records[3]?.at })
      expectError(await admin(`/api/admin/sessions/${randomUUID()}`), 404, 'session_not_found')
    })

    it('revoking by prefix refuses the key on the very next request', async () => {
      const revoked = okJson<{ data: KeyJson[] }>(await admin(`/api/admin/keys/${encodeURIComponent(created.prefix)}/revoke`, { method: 'POST' }))
      expect(revoked.data).toHaveLength(1)
      expect(revoked.data[0]).toMatchObject({ id: created.id, prefix: created.prefix, state: 'revoked' })
      expect(revoked.data[0]?.revoked_at).toMatch(isoPattern)
      expect(await outcome(chatWith(clientOf(stack, created.key)))).toEqual({ status: 401, code: 'invalid_api_key' })
      expectError(await admin(`/api/admin/keys/${created.id}/revoke`, { method: 'POST' }), 404, 'virtual_key_not_found')
      const listed = okJson<{ data: KeyJson[] }>(await admin(`/api/admin/consumers/${consumer.id}/keys`))
      expect(listed.data[0]).toMatchObject({ id: created.id, state: 'revoked' })
    })

    it('no admin answer ever held the secret or its hash', () => {
      const hash = createHash('sha256').update(created.key).digest('hex')
      const creating = replies.filter((r) => r.text.includes(created.key))
      expect(creating).toHaveLength(1)
      expect(creating[0]?.status).toBe(201)
      for (const reply of replies) {
        expect(reply.text).not.toContain(hash)
        if (reply !== creating[0]) for (const n of leakNeedles(created.key, created.prefix)) expect(reply.text).not.toContain(n)
      }
    })
  })
}

describe('admin API: consumer changes and refusals', () => {
  let stack: Stack
  const admin = adminClient(() => stack.gw.url)
  const post = (path: string, body: unknown): Promise<Reply> => admin(path, { method: 'POST', body })
  const patch = (path: string, body: unknown): Promise<Reply> => admin(path, { method: 'PATCH', body })

  async function consumerWithKey(name: string, tier: string | null): Promise<{ consumer: ConsumerJson; key: CreatedKeyJson; client: OpenAI }> {
    const consumer = createdJson<ConsumerJson>(await post('/api/admin/consumers', { name, tier }))
    const key = createdJson<CreatedKeyJson>(await post(`/api/admin/consumers/${consumer.id}/keys`, {}))
    return { consumer, key, client: clientOf(stack, key.key) }
  }

  beforeAll(async () => {
    stack = await startStack({ gateway: (simUrl) => gatewayConfig(simUrl) })
  })
  afterAll(() => stack?.close())

  it('disabling a consumer refuses its keys at once; enabling it lets them in again', async () => {
    const { consumer, client } = await consumerWithKey('toggle', 'basic')
    await chatWith(client)
    expect(okJson<ConsumerJson>(await patch(`/api/admin/consumers/${consumer.id}`, { disabled: true }))).toMatchObject({ disabled: true })
    expect(await outcome(chatWith(client))).toEqual({ status: 401, code: 'invalid_api_key' })
    expect(okJson<ConsumerJson>(await patch(`/api/admin/consumers/${consumer.id}`, { disabled: false }))).toMatchObject({ disabled: false })
    expect(await outcome(chatWith(client))).toEqual({ status: 200, code: null })
  })

  it('a new tier and new overrides apply on the next request', async () => {
    const { consumer, client } = await consumerWithKey('retier', 'basic')
    expect(await outcome(chatWith(client, 'other-model'))).toEqual({ status: 403, code: 'model_not_allowed' })
    const moved = okJson<ConsumerJson>(await patch(`/api/admin/consumers/${consumer.id}`, { tier: 'premium' }))
    expect(moved).toMatchObject({ id: consumer.id, name: 'retier', tier: 'premium', overrides: null })
    expect(Date.parse(moved.updated_at)).toBeGreaterThanOrEqual(Date.parse(consumer.updated_at))
    expect(await outcome(chatWith(client, 'other-model'))).toEqual({ status: 200, code: null })
    const narrowed = okJson<ConsumerJson>(await patch(`/api/admin/consumers/${consumer.id}`, { overrides: { models: ['test-model'], priority: { max: 'high' } } }))
    // Only what the override names is stored: the rest comes from the tier.
    expect(narrowed.overrides).toEqual({ models: ['test-model'], priority: { max: 'high' } })
    expect(await outcome(chatWith(client, 'other-model'))).toEqual({ status: 403, code: 'model_not_allowed' })
    expect(okJson<ConsumerJson>(await patch(`/api/admin/consumers/${consumer.id}`, { overrides: null })).overrides).toBeNull()
    expect(await outcome(chatWith(client, 'other-model'))).toEqual({ status: 200, code: null })
  })

  it('an override of rpm limits the consumer at once', async () => {
    const { consumer, client } = await consumerWithKey('throttled', 'premium')
    okJson(await patch(`/api/admin/consumers/${consumer.id}`, { overrides: { rpm: 1 } }))
    expect(await outcome(chatWith(client))).toEqual({ status: 200, code: null })
    expect(await outcome(chatWith(client))).toEqual({ status: 429, code: 'rate_limit_exceeded' })
  })

  it('a rename keeps the id and the keys; a name taken is 409 consumer_exists', async () => {
    const { consumer, client } = await consumerWithKey('old-name', null)
    createdJson(await post('/api/admin/consumers', { name: 'taken' }))
    expect(okJson<ConsumerJson>(await patch(`/api/admin/consumers/${consumer.id}`, { name: 'new-name' }))).toMatchObject({ id: consumer.id, name: 'new-name', tier: null })
    expect(await outcome(chatWith(client))).toEqual({ status: 200, code: null })
    expectError(await patch(`/api/admin/consumers/${consumer.id}`, { name: 'taken' }), 409, 'consumer_exists', 'name')
    expectError(await post('/api/admin/consumers', { name: 'taken' }), 409, 'consumer_exists', 'name')
    // Renaming to its own name is no conflict.
    expect(okJson<ConsumerJson>(await patch(`/api/admin/consumers/${consumer.id}`, { name: 'new-name' })).name).toBe('new-name')
  })

  it('deleting a consumer removes it and its keys; its key is refused at once', async () => {
    const { consumer, key, client } = await consumerWithKey('leaving', 'basic')
    await chatWith(client)
    expect(okJson(await admin(`/api/admin/consumers/${consumer.id}`, { method: 'DELETE' }))).toEqual({ id: consumer.id, deleted: true })
    expect(await outcome(chatWith(client))).toEqual({ status: 401, code: 'invalid_api_key' })
    expectError(await admin(`/api/admin/consumers/${consumer.id}`), 404, 'consumer_not_found')
    expectError(await admin(`/api/admin/consumers/${consumer.id}`, { method: 'DELETE' }), 404, 'consumer_not_found')
    const all = okJson<{ data: KeyJson[] }>(await admin('/api/admin/keys'))
    expect(all.data.map((k) => k.id)).not.toContain(key.id)
  })

  it('404 consumer_not_found on every consumer route for an unknown id', async () => {
    const id = `con_${randomUUID()}`
    for (const reply of [
      await admin(`/api/admin/consumers/${id}`),
      await patch(`/api/admin/consumers/${id}`, { disabled: true }),
      await admin(`/api/admin/consumers/${id}`, { method: 'DELETE' }),
      await post(`/api/admin/consumers/${id}/keys`, {}),
      await admin(`/api/admin/consumers/${id}/keys`),
    ]) {
      expect(expectError(reply, 404, 'consumer_not_found').message).toContain(id)
    }
  })

  it('expiry: expires_at as an ISO 8601 instant, or none', async () => {
    const consumer = createdJson<ConsumerJson>(await post('/api/admin/consumers', { name: 'expiring' }))
    const at = new Date(Date.now() + 3_600_000).toISOString()
    expect(createdJson<CreatedKeyJson>(await post(`/api/admin/consumers/${consumer.id}/keys`, { expires_at: at })).expires_at).toBe(at)
    expect(createdJson<CreatedKeyJson>(await post(`/api/admin/consumers/${consumer.id}/keys`, { expires_at: '2100-01-31T12:00:00+02:00' })).expires_at).toBe('2100-01-31T10:00:00.000Z')
    const forever = createdJson<CreatedKeyJson>(await post(`/api/admin/consumers/${consumer.id}/keys`, { name: null }))
    expect(forever).toMatchObject({ expires_at: null, name: null })
  })

  it('a prefix several active keys share is 409 ambiguous_key_prefix and revokes nothing', async () => {
    const consumer = createdJson<ConsumerJson>(await post('/api/admin/consumers', { name: 'twins' }))
    // Four random characters collide rarely; two rows are written with the same prefix on purpose.
    const prefix = 'sk-sluice-Twin'
    for (const i of [1, 2]) {
      await stack.gw.store.virtualKeys.create(
        { id: `key_${randomUUID()}`, consumerId: consumer.id, prefix, name: `twin-${i}`, createdAt: Date.now(), expiresAt: null, revokedAt: null, lastUsedAt: null },
        createHash('sha256').update(`twin-${i}-${randomUUID()}`).digest('hex'),
      )
    }
    expectError(await post(`/api/admin/keys/${prefix}/revoke`, undefined), 409, 'ambiguous_key_prefix')
    const listed = okJson<{ data: KeyJson[] }>(await admin(`/api/admin/consumers/${consumer.id}/keys`))
    expect(listed.data.map((k) => k.state)).toEqual(['active', 'active'])
    const first = listed.data[0] as KeyJson
    expect(okJson<{ data: KeyJson[] }>(await post(`/api/admin/keys/${first.id}/revoke`, undefined)).data.map((k) => k.id)).toEqual([first.id])
    // Now one active key has the prefix: the prefix alone picks it.
    expect(okJson<{ data: KeyJson[] }>(await post(`/api/admin/keys/${prefix}/revoke`, undefined)).data.map((k) => k.name)).toEqual([listed.data[1]?.name])
    expectError(await post(`/api/admin/keys/${prefix}/revoke`, undefined), 404, 'virtual_key_not_found')
  })

  describe('bodies and queries are checked, each refusal naming its field', () => {
    let id: string
    beforeAll(async () => {
      id = createdJson<ConsumerJson>(await post('/api/admin/consumers', { name: 'checked', tier: 'basic' })).id
    })

    const cases: { what: string; call: () => Promise<Reply>; status?: number; code?: string; param: string | null }[] = [
      { what: 'create: no name', call: () => post('/api/admin/consumers', { tier: 'basic' }), param: 'name' },
      { what: 'create: a name with spaces', call: () => post('/api/admin/consumers', { name: 'two words' }), param: 'name' },
      { what: 'create: a name too long', call: () => post('/api/admin/consumers', { name: 'a'.repeat(129) }), param: 'name' },
      { what: 'create: a name that is a number', call: () => post('/api/admin/consumers', { name: 42 }), param: 'name' },
      { what: 'create: an unknown tier', call: () => post('/api/admin/consumers', { name: 'x1', tier: 'gold' }), param: 'tier' },
      { what: 'create: an unknown field', call: () => post('/api/admin/consumers', { name: 'x2', teir: 'basic' }), param: 'teir' },
      { what: 'create: overrides.rpm negative', call: () => post('/api/admin/consumers', { name: 'x3', overrides: { rpm: -1 } }), param: 'overrides.rpm' },
      { what: 'create: overrides.rpm a string', call: () => post('/api/admin/consumers', { name: 'x4', overrides: { rpm: '10' } }), param: 'overrides.rpm' },
      { what: 'create: an unknown override', call: () => post('/api/admin/consumers', { name: 'x5', overrides: { rps: 10 } }), param: 'overrides.rps' },
      { what: 'create: overrides.priority.max unknown', call: () => post('/api/admin/consumers', { name: 'x6', overrides: { priority: { max: 'critical' } } }), param: 'overrides.priority.max' },
      { what: 'create: overrides.budget_period unknown', call: () => post('/api/admin/consumers', { name: 'x7', overrides: { budget_period: 'year' } }), param: 'overrides.budget_period' },
      { what: 'create: overrides.weight zero', call: () => post('/api/admin/consumers', { name: 'x8', overrides: { weight: 0 } }), param: 'overrides.weight' },
      { what: 'create: overrides.models not a list', call: () => post('/api/admin/consumers', { name: 'x9', overrides: { models: 'test-model' } }), param: 'overrides.models' },
      { what: 'create: overrides not an object', call: () => post('/api/admin/consumers', { name: 'x10', overrides: [] }), param: 'overrides' },
      { what: 'create: a JSON array', call: () => post('/api/admin/consumers', [{ name: 'x' }]), code: 'invalid_json', param: null },
      { what: 'create: broken JSON', call: () => post('/api/admin/consumers', '{"name": "x'), code: 'invalid_json', param: null },
      { what: 'patch: an unknown tier', call: () => patch(`/api/admin/consumers/${id}`, { tier: 'gold' }), param: 'tier' },
      { what: 'patch: disabled not a boolean', call: () => patch(`/api/admin/consumers/${id}`, { disabled: 'yes' }), param: 'disabled' },
      { what: 'patch: an unknown field', call: () => patch(`/api/admin/consumers/${id}`, { enabled: true }), param: 'enabled' },
      { what: 'patch: a bad name', call: () => patch(`/api/admin/consumers/${id}`, { name: '-dash-first' }), param: 'name' },
      { what: 'key: expires_at not ISO 8601', call: () => post(`/api/admin/consumers/${id}/keys`, { expires_at: 'next tuesday' }), param: 'expires_at' },
      { what: 'key: expires_at without an offset', call: () => post(`/api/admin/consumers/${id}/keys`, { expires_at: '2100-01-01T00:00:00' }), param: 'expires_at' },
      { what: 'key: expires_at a day that does not exist', call: () => post(`/api/admin/consumers/${id}/keys`, { expires_at: '2100-02-30' }), param: 'expires_at' },
      { what: 'key: expires_at in the past', call: () => post(`/api/admin/consumers/${id}/keys`, { expires_at: '2001-01-01T00:00:00Z' }), param: 'expires_at' },
      { what: 'key: expires_in without a unit', call: () => post(`/api/admin/consumers/${id}/keys`, { expires_in: '30' }), param: 'expires_in' },
      { what: 'key: expires_in zero', call: () => post(`/api/admin/consumers/${id}/keys`, { expires_in: '0d' }), param: 'expires_in' },
      { what: 'key: both expiries', call: () => post(`/api/admin/consumers/${id}/keys`, { expires_in: '1d', expires_at: '2100-01-01' }), param: 'expires_in' },
      { what: 'key: a name with a newline', call: () => post(`/api/admin/consumers/${id}/keys`, { name: 'a\nb' }), param: 'name' },
      { what: 'key: an unknown field', call: () => post(`/api/admin/consumers/${id}/keys`, { key: 'sk-sluice-mine' }), param: 'key' },
      { what: 'usage: limit over 1000', call: () => admin('/api/admin/usage?limit=1001'), param: 'limit' },
      { what: 'usage: limit zero', call: () => admin('/api/admin/usage?limit=0'), param: 'limit' },
      { what: 'usage: offset negative', call: () => admin('/api/admin/usage?offset=-1'), param: 'offset' },
      { what: 'usage: from not a date', call: () => admin('/api/admin/usage?from=yesterday'), param: 'from' },
      { what: 'usage: to before from', call: () => admin('/api/admin/usage?from=2030-01-02&to=2030-01-01'), param: 'to' },
      { what: 'usage: an unknown parameter', call: () => admin('/api/admin/usage?consumer_id=x'), param: 'consumer_id' },
      { what: 'usage: a parameter given twice', call: () => admin('/api/admin/usage?model=a&model=b'), param: 'model' },
      { what: 'sessions: limit not a number', call: () => admin('/api/admin/sessions?limit=ten'), param: 'limit' },
    ]
    for (const c of cases) {
      it(`${c.what} → ${c.status ?? 400} ${c.code ?? 'invalid_field'}`, async () => {
        const error = expectError(await c.call(), c.status ?? 400, c.code ?? 'invalid_field', c.param)
        if (c.param !== null) expect(error.message).toContain(c.param)
      })
    }

    it('nothing refused was stored', async () => {
      const names = okJson<{ data: ConsumerJson[] }>(await admin('/api/admin/consumers')).data.map((c) => c.name)
      for (const n of ['x1', 'x2', 'x3', 'x4', 'x5', 'x6', 'x7', 'x8', 'x9', 'x10']) expect(names).not.toContain(n)
      expect(okJson<{ data: KeyJson[] }>(await admin(`/api/admin/consumers/${id}/keys`)).data).toEqual([])
      expect(okJson<ConsumerJson>(await admin(`/api/admin/consumers/${id}`))).toMatchObject({ name: 'checked', tier: 'basic', disabled: false })
    })
  })
})
