import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chatBody, expectRefusal, makeCaller, type Caller } from '../../support/consumers.js'
import { send } from '../../support/data-plane.js'
import { startStack, type Stack } from '../../support/harness.js'

// A tier's `models` list is what its consumers may use. With a passthrough provider configured,
// the list must hold on passthrough paths too: a body naming a model the tier does not allow
// (the Responses API, for one) must not reach the upstream.

describe('consumers: a tier\'s models with a passthrough provider', () => {
  let stack: Stack
  let restricted: Caller
  let open: Caller

  beforeAll(async () => {
    stack = await startStack({
      gateway: (simUrl) => ({
        providers: { sim: { type: 'openai', base_url: `${simUrl}/v1`, keys: [{ id: 'k1', key: 'sk-sim-test-1' }] } },
        models: { 'test-model': { targets: [{ provider: 'sim', model: 'sim-model' }] } },
        passthrough: { provider: 'sim' },
        tiers: { cheap: { models: ['test-model'] }, everything: {} },
      }),
    })
    restricted = await makeCaller(stack.gw, 'restricted', 'cheap')
    open = await makeCaller(stack.gw, 'open', 'everything')
  })
  afterAll(() => stack.close())

  const upstream = (): number => stack.sim.stats().totals.requests

  it('chat with an unmanaged model outside the tier: 403 model_not_allowed, not passed through', async () => {
    const before = upstream()
    const reply = await send(stack.gw.url, '/v1/chat/completions', { body: chatBody('gpt-4o-expensive', 'hi'), headers: restricted.headers })
    expectRefusal(reply, 403, 'model_not_allowed', 'model')
    expect(upstream()).toBe(before)
  })

  it('a consumer whose tier allows every model is passed through on /v1/responses', async () => {
    const before = upstream()
    await send(stack.gw.url, '/v1/responses', { body: { model: 'gpt-4o-expensive', input: 'hi' }, headers: open.headers })
    await stack.sim.waitForRequests(before + 1)
    expect(upstream()).toBe(before + 1)
  })

  it('POST /v1/responses naming a model outside the tier: 403 model_not_allowed, not passed through', async () => {
    const before = upstream()
    const reply = await send(stack.gw.url, '/v1/responses', { body: { model: 'gpt-4o-expensive', input: 'hi' }, headers: restricted.headers })
    expect(upstream(), 'the request reached the upstream').toBe(before)
    expectRefusal(reply, 403, 'model_not_allowed', 'model')
  })
})
