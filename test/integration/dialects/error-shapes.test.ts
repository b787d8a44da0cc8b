import Anthropic from '@anthropic-ai/sdk'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { send, sseData, sseEventNames } from '../../support/data-plane.js'
import { startStack, type Stack } from '../../support/harness.js'

// Each endpoint answers errors in its own client's dialect, from the one catalogue: OpenAI's
// {error:{message,type,code,param}} on chat; Anthropic's {type:"error",error:{type,message}}
// and a request-id header on /v1/messages, and `event: error` when its stream breaks.

const secret = 'sk-ant-dialect-errors-4f1e8a'

describe('errors in the client\'s dialect', () => {
  let stack: Stack
  let anthropic: Anthropic

  beforeAll(async () => {
    stack = await startStack({
      sim: { keys: { [secret]: { id: 'ant' } }, completion_tokens: 8, latency: { tokens_per_second: 500 } },
      gateway: (simUrl) => ({
        providers: { ant: { type: 'anthropic', base_url: `${simUrl}/v1`, keys: [{ id: 'k1', key: secret }] } },
        models: { claude: { targets: [{ provider: 'ant', model: 'claude-up' }] } },
      }),
    })
    anthropic = new Anthropic({ baseURL: stack.gw.url, apiKey: 'client-key', maxRetries: 0 })
  })
  afterAll(() => stack?.close())

  it('an unknown model on /v1/messages: 404 not_found_error in Anthropic\'s shape, with request-id', async () => {
    const res = await send(stack.gw.url, '/v1/messages', { body: { model: 'nope', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }, headers: { 'x-request-id': 'ant-404' } })
    expect(res.status).toBe(404)
    expect(res.headers['request-id']).toBe('ant-404')
    expect(res.json()).toEqual({ type: 'error', error: { type: 'not_found_error', message: expect.stringContaining('`nope`') } })
  })

  it('the same mistake on /v1/chat/completions keeps OpenAI\'s shape', async () => {
    const res = await send(stack.gw.url, '/v1/chat/completions', { body: { model: 'nope', messages: [{ role: 'user', content: 'hi' }] } })
    expect(res.status).toBe(404)
    expect(res.headers['request-id']).toBeUndefined()
    expect(res.json()).toMatchObject({ error: { type: 'invalid_request_error', code: 'model_not_found', param: 'model' } })
  })

  it('a malformed body on /v1/messages: 400 invalid_request_error; the Anthropic SDK raises BadRequestError with the request id', async () => {
    const res = await send(stack.gw.url, '/v1/messages', { body: '{"model": ', headers: { 'x-request-id': 'ant-400' } })
    expect(res.status).toBe(400)
    expect(res.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } })
    const err = await anthropic.messages.create({ model: 'nope', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }).then(() => null, (e: unknown) => e)
    expect(err).toBeInstanceOf(Anthropic.NotFoundError)
    const e = err as InstanceType<typeof Anthropic.NotFoundError>
    expect(e.requestID).toMatch(/.+/)
    expect((e.error as { error: { type: string } }).error.type).toBe('not_found_error')
  })

  it('a stream on /v1/messages cut mid-way ends with event: error, and the Anthropic SDK raises it', async () => {
    stack.sim.script([{ kind: 'reset_mid_stream', after_chunks: 3, match: { model: 'claude-up' } }])
    const res = await send(stack.gw.url, '/v1/messages', { body: { model: 'claude', max_tokens: 8, stream: true, messages: [{ role: 'user', content: 'hi' }] } })
    expect(res.status).toBe(200)
    const names = sseEventNames(res.text)
    expect(names[0]).toBe('message_start')
    expect(names.at(-1)).toBe('error')
    expect(names).not.toContain('message_stop')
    expect(JSON.parse(sseData(res.text).at(-1)!)).toEqual({ type: 'error', error: { type: 'api_error', message: expect.stringContaining('ant') } })

    stack.sim.script([{ kind: 'reset_mid_stream', after_chunks: 3, match: { model: 'claude-up' } }])
    const stream = anthropic.messages.stream({ model: 'claude', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] })
    const err = await stream.finalMessage().then(() => null, (e: unknown) => e)
    expect(err).toBeInstanceOf(Anthropic.APIError)
    expect(String((err as Error).message)).not.toContain('stream ended without producing')
  })
})
