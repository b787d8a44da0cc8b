import OpenAI from 'openai'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startStack, type Stack } from '../../support/harness.js'
import { adminCaller, adminKey, deploymentOf, provider, secretOf } from '../../support/failover.js'

// An upstream 401/403 takes a key out only when it refuses the key itself. One that refuses
// the request (its auth header in another dialect, a model the key may not use) reaches the
// client as a scrubbed 4xx and leaves the key serving everyone else.

describe('the key-disable rule', () => {
  let stack: Stack
  let client: OpenAI
  const admin = adminCaller(() => stack.gw.url)

  beforeAll(async () => {
    stack = await startStack({
      sim: { keys: { [secretOf('only')]: { id: 'only' } } },
      gateway: (simUrl) => ({
        admin: { keys: [adminKey] },
        providers: { p: provider(simUrl, [{ id: 'only' }]) },
        models: { m: { targets: [{ provider: 'p', model: 'up-m' }] } },
      }),
    })
    client = new OpenAI({ baseURL: stack.baseURL, apiKey: 'c', maxRetries: 0 })
  })
  afterAll(() => stack?.close())

  const ask = () => client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }], max_tokens: 2 }).then(() => null, (e: unknown) => e)

  it('a dialect-mismatch 401 ("you didn\'t provide an API key"): the client gets a 400, the key stays in service', async () => {
    stack.sim.script([{ kind: 'error', status: 401, body: { error: { message: "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).", type: 'invalid_request_error', param: null, code: null } }, match: { model: 'up-m' } }])
    const err = await ask()
    expect(err).toBeInstanceOf(OpenAI.BadRequestError)
    expect((await deploymentOf(admin, 'p~only')).health).toMatchObject({ state: 'closed', disabled_reason: null })
    expect(await ask()).toBeNull() // the next request is served by the same key
  })

  it('a 403 for a model the project may not use: a scrubbed 403, the key stays in service', async () => {
    stack.sim.script([{ kind: 'error', status: 403, body: { error: { message: `Project proj_x does not have access to model up-m (key ${secretOf('only')})`, type: 'invalid_request_error', param: null, code: 'model_not_found' } }, match: { model: 'up-m' } }])
    const err = await ask()
    expect(err).toBeInstanceOf(OpenAI.PermissionDeniedError)
    expect(String((err as Error).message)).not.toContain(secretOf('only'))
    expect((await deploymentOf(admin, 'p~only')).health.disabled_reason).toBeNull()
    expect(await ask()).toBeNull()
  })

  it('a revoked key (401 invalid_api_key) is still taken out', async () => {
    stack.sim.script([{ kind: 'error', status: 401, body: { error: { message: 'Incorrect API key provided: sk-fo-****.', type: 'invalid_request_error', param: null, code: 'invalid_api_key' } }, match: { model: 'up-m' } }])
    const err = await ask()
    expect(err).toBeInstanceOf(OpenAI.APIError)
    expect((await deploymentOf(admin, 'p~only')).health).toMatchObject({ disabled_reason: 'auth' })
  })
})
