import OpenAI from 'openai'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateVirtualKey } from '../../../src/core/virtual-keys/index.js'
import { makeCaller, type Caller } from '../../support/consumers.js'
import { expectErrorBody, send } from '../../support/data-plane.js'
import { startStack, type Stack } from '../../support/harness.js'

// The model list is a data-plane route like any other: under `auth: required` it needs a
// valid virtual key (as OpenAI's does), and a refusal is OpenAI's 401, which the official
// client raises as AuthenticationError.

describe('consumers: /v1/models and /v1/models/{id} need a key', () => {
  let stack: Stack
  let alice: Caller
  let revoked: Caller
  beforeAll(async () => {
    stack = await startStack({
      gateway: (simUrl) => ({
        providers: { sim: { type: 'openai', base_url: `${simUrl}/v1`, keys: [{ id: 'k1', key: 'sk-sim-test-1' }] } },
        models: { 'test-model': { targets: [{ provider: 'sim', model: 'sim-model' }] } },
        auth: 'required',
      }),
    })
    alice = await makeCaller(stack.gw, 'alice', null)
    revoked = await makeCaller(stack.gw, 'revoked-bob', null)
    expect(await stack.gw.store.virtualKeys.revoke(revoked.key.id, Date.now())).toHaveLength(1)
  })
  afterAll(() => stack.close())

  const refused: { name: string; headers: () => Record<string, string> }[] = [
    { name: 'no key', headers: () => ({}) },
    { name: 'a malformed key', headers: () => ({ authorization: 'Bearer abc' }) },
    { name: 'an unknown key', headers: () => ({ authorization: `Bearer ${generateVirtualKey().secret}` }) },
    { name: 'a revoked key', headers: () => revoked.headers },
  ]
  for (const path of ['/v1/models', '/v1/models/test-model', '/v1/models/no-such-model', '/v1/Models/']) {
    for (const r of refused) {
      it(`GET ${path} with ${r.name} → 401 invalid_api_key`, async () => {
        const res = await send(stack.gw.url, path, { headers: r.headers() })
        expect(res.status).toBe(401)
        expectErrorBody(res.json(), 'invalid_api_key')
        expect(res.headers['x-request-id']).toMatch(/.+/)
      })
    }
  }

  it('the refusals are logged like other refusals', async () => {
    const res = await send(stack.gw.url, '/v1/models', { headers: { 'x-request-id': 'models-no-key-1' } })
    expect(res.status).toBe(401)
    const records = await stack.logs.waitForAccessLog((all) => all.some((r) => r.requestId === 'models-no-key-1'))
    expect(records.find((r) => r.requestId === 'models-no-key-1')).toMatchObject({ status: 401, error: 'invalid_api_key' })
  })

  it('the official client: AuthenticationError without a key, the list and the model with one', async () => {
    const anonymous = new OpenAI({ baseURL: stack.baseURL, apiKey: 'sk-not-a-sluice-key', maxRetries: 0 })
    await expect(anonymous.models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError)
    await expect(anonymous.models.retrieve('test-model')).rejects.toBeInstanceOf(OpenAI.AuthenticationError)

    const client = new OpenAI({ baseURL: stack.baseURL, apiKey: alice.secret, maxRetries: 0 })
    const ids: string[] = []
    for await (const m of client.models.list()) ids.push(m.id)
    expect(ids).toEqual(['test-model'])
    expect((await client.models.retrieve('test-model')).id).toBe('test-model')
    await expect(client.models.retrieve('no-such-model')).rejects.toBeInstanceOf(OpenAI.NotFoundError)
  })

  it('x-api-key (the Anthropic clients\' header) is accepted too', async () => {
    const res = await send(stack.gw.url, '/v1/models', { headers: { 'x-api-key': alice.secret } })
    expect(res.status).toBe(200)
  })
})
