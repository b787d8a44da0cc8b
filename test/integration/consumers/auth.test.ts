import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateVirtualKey } from '../../../src/core/virtual-keys/index.js'
import type { SluiceConfigInput } from '../../../src/config/schema.js'
import { expectRefusal, chatBody, makeCaller, makeExpiredKey, type Caller } from '../../support/consumers.js'
import { send, type Reply } from '../../support/data-plane.js'
import { startStack, type Stack } from '../../support/harness.js'

// Virtual keys on the data plane. Every credential that is not a live key of an existing
// consumer is 401 invalid_api_key, in the OpenAI error shape, before any upstream is involved;
// a live key asking for a model outside its tier is 403 model_not_allowed, also before any
// upstream. Admin keys are not data-plane keys. With `auth: off` nobody needs a key.

const adminKey = 'adm-consumers-auth-7c41e9b2d0'

const gatewayConfig = (simUrl: string, extra: Partial<SluiceConfigInput> = {}): SluiceConfigInput => ({
  providers: {
    sim: { type: 'openai', base_url: `${simUrl}/v1`, keys: [{ id: 'k1', key: 'sk-sim-test-1' }] },
    anth: { type: 'anthropic', base_url: `${simUrl}/v1`, keys: [{ id: 'a1', key: 'sk-ant-sim-1' }] },
  },
  models: {
    'test-model': { targets: [{ provider: 'sim', model: 'sim-model' }] },
    'premium-model': { targets: [{ provider: 'sim', model: 'sim-premium' }] },
    'claude-test': { targets: [{ provider: 'anth', model: 'claude-sim' }] },
    'claude-premium': { targets: [{ provider: 'anth', model: 'claude-sim-premium' }] },
  },
  tiers: {
    basic: { models: ['test-model', 'claude-test'] },
    premium: { models: ['premium-model', 'claude-premium'] },
  },
  admin: { keys: [adminKey] },
  ...extra,
})

const chat = chatBody('test-model', 'hello there', { max_tokens: 4 })
const messagesBody = { model: 'claude-test', max_tokens: 4, messages: [{ role: 'user', content: 'hello there' }] }

/** Upstream requests the simulator has finished so far. */
const upstreamCount = (stack: Stack): number => stack.sim.stats().totals.requests

describe('consumers: the auth matrix (auth unset, consumers exist)', () => {
  let stack: Stack
  let alice: Caller
  let revoked: Caller
  let expiredSecret: string
  let disabled: Caller

  beforeAll(async () => {
    stack = await startStack({ gateway: (simUrl) => gatewayConfig(simUrl) })
    // Consumers exist before the first request, so `auth` unset already means required.
    alice = await makeCaller(stack.gw, 'alice', 'basic')
    revoked = await makeCaller(stack.gw, 'revoked-bob', 'basic')
    expect(await stack.gw.store.virtualKeys.revoke(revoked.key.id, Date.now())).toHaveLength(1)
    const carol = await makeCaller(stack.gw, 'carol', 'basic')
    expiredSecret = await makeExpiredKey(stack.gw, carol.consumer.id)
    disabled = await makeCaller(stack.gw, 'disabled-dan', 'basic')
    expect(await stack.gw.store.consumers.update(disabled.consumer.id, { disabled: true }, Date.now())).toMatchObject({ disabled: true })
  })
  afterAll(() => stack.close())

  // A 53-character string with no spaces that passes a naive length check, and the classic spaced form.
  const injectionNoSpaces = `sk-sluice-'/**/OR/**/1=1;--${'A'.repeat(53 - 27)}`
  const refused: { name: string; headers: () => Record<string, string> }[] = [
    { name: 'no key', headers: () => ({}) },
    { name: 'malformed (Bearer abc)', headers: () => ({ authorization: 'Bearer abc' }) },
    { name: 'unknown well-formed sk-sluice- key', headers: () => ({ authorization: `Bearer ${generateVirtualKey().secret}` }) },
    { name: 'revoked key', headers: () => revoked.headers },
    { name: 'expired key', headers: () => ({ authorization: `Bearer ${expiredSecret}` }) },
    { name: 'a live key of a disabled consumer', headers: () => disabled.headers },
    { name: "SQL injection (sk-sluice-' OR 1=1 --)", headers: () => ({ authorization: "Bearer sk-sluice-' OR 1=1 --" }) },
    { name: 'SQL injection of the key length, no spaces', headers: () => ({ authorization: `Bearer ${injectionNoSpaces}` }) },
    { name: 'an 8 KB Authorization header', headers: () => ({ authorization: `Bearer sk-sluice-${'A'.repeat(8192)}` }) },
    { name: 'the key without the Bearer scheme', headers: () => ({ authorization: alice.secret }) },
    { name: 'a Basic credential holding the key', headers: () => ({ authorization: `Basic ${Buffer.from(`u:${alice.secret}`).toString('base64')}` }) },
    { name: 'a live key in x-api-key on the OpenAI dialect', headers: () => ({ 'x-api-key': alice.secret }) },
    { name: 'an admin key (admin.keys)', headers: () => ({ authorization: `Bearer ${adminKey}` }) },
  ]

  for (const c of refused) {
    it(`/v1/chat/completions, ${c.name}: 401 invalid_api_key, upstream never called`, async () => {
      const before = upstreamCount(stack)
      const reply = await send(stack.gw.url, '/v1/chat/completions', { body: chat, headers: c.headers() })
      expectRefusal(reply, 401, 'invalid_api_key')
      expect(reply.json<{ error: { type: string } }>().error.type).toBe('authentication_error')
      expect(reply.headers['x-request-id']).toBeTruthy()
      // Refused before admission: no consumer standing to report.
      expect(Object.keys(reply.headers).filter((h) => h.startsWith('x-ratelimit'))).toEqual([])
      expect(upstreamCount(stack)).toBe(before)
    })
  }

  it('a valid key asking for another tier\'s model: 403 model_not_allowed, upstream never called', async () => {
    const before = upstreamCount(stack)
    const reply = await send(stack.gw.url, '/v1/chat/completions', { body: chatBody('premium-model', 'hello there', { max_tokens: 4 }), headers: alice.headers })
    const error = expectRefusal(reply, 403, 'model_not_allowed', 'model')
    expect(reply.json<{ error: { type: string } }>().error.type).toBe('permission_error')
    expect(error.message).toContain('premium-model')
    expect(upstreamCount(stack)).toBe(before)
  })

  it('a valid key is served, and the upstream gets the provider key, never the virtual key', async () => {
    stack.sim.reset()
    const reply = await send(stack.gw.url, '/v1/chat/completions', { body: chat, headers: { ...alice.headers, 'x-request-id': 'auth-valid-1' } })
    expect(reply.status, reply.text).toBe(200)
    await stack.sim.waitForRequests(1)
    const [seen] = stack.sim.requests()
    expect(seen?.headers.authorization).toBe('Bearer sk-sim-test-1')
    expect(JSON.stringify(seen?.headers)).not.toContain(alice.secret)
    const log = await stack.logs.waitForAccessLog((r) => r.some((l) => l.requestId === 'auth-valid-1'))
    expect(log.find((l) => l.requestId === 'auth-valid-1')).toMatchObject({ status: 200, outcome: 'success' })
  })

  it('every refusal is in the access log as 401 invalid_api_key, with no upstream', async () => {
    const ids = refused.map((_, i) => `auth-refused-${i}`)
    for (const [i, c] of refused.entries()) {
      const reply = await send(stack.gw.url, '/v1/chat/completions', { body: chat, headers: { ...c.headers(), 'x-request-id': ids[i] as string } })
      expect(reply.status).toBe(401)
      expect(reply.headers['x-request-id']).toBe(ids[i])
    }
    const log = await stack.logs.waitForAccessLog((r) => ids.every((id) => r.some((l) => l.requestId === id)))
    for (const id of ids) expect(log.find((l) => l.requestId === id)).toMatchObject({ status: 401, error: 'invalid_api_key', provider: null, upstreamStatus: null })
  })

  it('a live virtual key is not an admin key: 403 invalid_admin_key on the admin API', async () => {
    const reply = await send(stack.gw.url, '/api/admin/deployments', { headers: alice.headers })
    expectRefusal(reply, 403, 'invalid_admin_key')
  })

  describe('/v1/messages with x-api-key, on an anthropic provider', () => {
    const cases: { name: string; headers: () => Record<string, string>; status: number }[] = [
      { name: 'no key', headers: () => ({}), status: 401 },
      { name: 'malformed x-api-key', headers: () => ({ 'x-api-key': 'abc' }), status: 401 },
      { name: 'unknown well-formed x-api-key', headers: () => ({ 'x-api-key': generateVirtualKey().secret }), status: 401 },
      { name: 'revoked x-api-key', headers: () => ({ 'x-api-key': revoked.secret }), status: 401 },
      { name: 'expired x-api-key', headers: () => ({ 'x-api-key': expiredSecret }), status: 401 },
      { name: 'SQL injection in x-api-key', headers: () => ({ 'x-api-key': "sk-sluice-' OR 1=1 --" }), status: 401 },
      { name: 'an 8 KB x-api-key', headers: () => ({ 'x-api-key': `sk-sluice-${'A'.repeat(8192)}` }), status: 401 },
      { name: 'an admin key in x-api-key', headers: () => ({ 'x-api-key': adminKey }), status: 401 },
    ]
    for (const c of cases) {
      it(`${c.name}: 401 authentication_error in Anthropic's shape, with request-id; upstream never called`, async () => {
        const before = upstreamCount(stack)
        const reply = await send(stack.gw.url, '/v1/messages', { body: messagesBody, headers: c.headers() })
        expectAnthropicRefusal(reply, c.status, 'authentication_error')
        expect(upstreamCount(stack)).toBe(before)
      })
    }

    it('a live key in x-api-key is served; the upstream gets the provider\'s x-api-key', async () => {
      stack.sim.reset()
      const reply = await send(stack.gw.url, '/v1/messages', { body: messagesBody, headers: { 'x-api-key': alice.secret } })
      expect(reply.status, reply.text).toBe(200)
      expect(reply.json<{ type: string }>().type).toBe('message')
      await stack.sim.waitForRequests(1)
      const [seen] = stack.sim.requests()
      expect(seen?.path).toBe('/v1/messages')
      expect(seen?.headers['x-api-key']).toBe('sk-ant-sim-1')
      expect(seen?.headers.authorization).toBeUndefined()
    })

    it('a live key asking for another tier\'s model on /v1/messages: 403 model_not_allowed', async () => {
      const before = upstreamCount(stack)
      const reply = await send(stack.gw.url, '/v1/messages', { body: { ...messagesBody, model: 'claude-premium' }, headers: { 'x-api-key': alice.secret } })
      expect(expectAnthropicRefusal(reply, 403, 'permission_error')).toContain('claude-premium')
      expect(upstreamCount(stack)).toBe(before)
    })
  })
})

/** /v1/messages answers in Anthropic's shape: {type:"error",error:{type,message}}, and request-id. Returns the message. */
function expectAnthropicRefusal(reply: Reply, status: number, type: string): string {
  expect(reply.status, reply.text).toBe(status)
  expect(reply.headers['request-id']).toBe(reply.headers['x-request-id'])
  const body = reply.json<{ type: string; error: { type: string; message: string } }>()
  expect(body).toEqual({ type: 'error', error: { type, message: expect.any(String) } })
  return body.error.message
}

describe('consumers: auth off', () => {
  let stack: Stack
  beforeAll(async () => {
    stack = await startStack({ gateway: (simUrl) => gatewayConfig(simUrl, { auth: 'off' }) })
    // A consumer exists, and still nobody needs a key.
    await makeCaller(stack.gw, 'dave', 'premium')
  })
  afterAll(() => stack.close())

  const callers: { name: string; headers: Record<string, string> }[] = [
    { name: 'no key', headers: {} },
    { name: 'a malformed key', headers: { authorization: 'Bearer abc' } },
    { name: 'an unknown key', headers: { authorization: `Bearer ${generateVirtualKey().secret}` } },
    { name: 'an admin key', headers: { authorization: `Bearer ${adminKey}` } },
  ]
  for (const c of callers) {
    it(`${c.name}: served`, async () => {
      const before = upstreamCount(stack)
      const reply: Reply = await send(stack.gw.url, '/v1/chat/completions', { body: chat, headers: c.headers })
      expect(reply.status, reply.text).toBe(200)
      expect(reply.json<{ object: string }>().object).toBe('chat.completion')
      await stack.sim.waitForRequests(before + 1)
    })
  }

  it('/v1/messages without a key: served', async () => {
    const reply = await send(stack.gw.url, '/v1/messages', { body: messagesBody })
    expect(reply.status, reply.text).toBe(200)
  })
})

describe('consumers: auth unset while no consumer exists', () => {
  let stack: Stack
  beforeAll(async () => {
    stack = await startStack({ gateway: (simUrl) => gatewayConfig(simUrl) })
  })
  afterAll(() => stack.close())

  it('every caller is served without a key', async () => {
    const reply = await send(stack.gw.url, '/v1/chat/completions', { body: chat })
    expect(reply.status, reply.text).toBe(200)
  })
})
