import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { Simulator } from '../../../src/simulator/index.js'
import { chatBody, send, sseData, start } from './helpers.js'

let sim: Simulator
beforeAll(async () => { sim = await start({ completion_tokens: 3, keys: { 'az-key-1': { rpm: 1, headers: 'azure' } } }) })
beforeEach(() => sim.reset())
afterAll(() => sim.close())

const path = (op: string, version = '2024-10-21'): string => `/openai/deployments/my-gpt/${op}${version === '' ? '' : `?api-version=${version}`}`
const auth = { 'api-key': 'az-key-1' }

describe('Azure OpenAI dialect', () => {
  it('answers chat with the deployment as the model, streamed and not', async () => {
    const whole = await send(sim, path('chat/completions'), { headers: auth, body: chatBody({ model: 'ignored' }) })
    expect(whole.status).toBe(200)
    expect(whole.json()).toMatchObject({ object: 'chat.completion', model: 'my-gpt' })
    expect(whole.headers['x-ratelimit-remaining-requests']).toBe('0')
    sim.reset()
    const streamed = await send(sim, path('chat/completions'), { headers: auth, body: chatBody({ stream: true }) })
    const data = sseData(streamed.text)
    expect(data.at(-1)).toBe('[DONE]')
    expect(JSON.parse(data[0] ?? '{}')).toMatchObject({ model: 'my-gpt', object: 'chat.completion.chunk' })
    await sim.waitForRequests(1)
    expect(sim.requests()[0]).toMatchObject({ key_id: 'az-key-1', model: 'my-gpt', stream: true })
  })

  it('serves embeddings and completions under the deployment', async () => {
    const emb = await send(sim, path('embeddings'), { headers: { 'api-key': 'other-key' }, body: { input: 'x' } })
    expect(emb.json()).toMatchObject({ model: 'my-gpt', data: [{ object: 'embedding' }] })
    const cmp = await send(sim, path('completions'), { headers: { 'api-key': 'other-key' }, body: { prompt: 'x' } })
    expect(cmp.json()).toMatchObject({ model: 'my-gpt', object: 'text_completion' })
  })

  it('requires api-version and the api-key header', async () => {
    const noVersion = await send(sim, path('chat/completions', ''), { headers: auth, body: chatBody() })
    expect(noVersion.status).toBe(400)
    expect(noVersion.json()).toMatchObject({ error: { param: 'api-version' } })
    const bearerOnly = await send(sim, path('chat/completions'), { headers: { authorization: 'Bearer az-key-1' }, body: chatBody() })
    expect(bearerOnly.status).toBe(401)
    expect(bearerOnly.json()).toEqual({ error: { code: '401', message: expect.any(String) as string } })
  })
})
