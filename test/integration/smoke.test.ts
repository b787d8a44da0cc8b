import OpenAI from 'openai'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startStack, type Stack } from '../support/harness.js'

describe('smoke: the openai client through sluice to the simulator', () => {
  let stack: Stack
  let client: OpenAI
  beforeAll(async () => {
    stack = await startStack()
    client = new OpenAI({ baseURL: stack.baseURL, apiKey: 'client-key-not-forwarded', maxRetries: 0 })
  })
  afterAll(() => stack.close())

  it('answers a chat completion with the upstream key, not the client one', async () => {
    const res = await client.chat.completions.create({ model: 'test-model', messages: [{ role: 'user', content: 'hi' }] })
    expect(res.choices[0]?.message.content).toBeTruthy()
    const seen = stack.sim.requests().at(-1)
    expect(seen?.headers.authorization).toBe('Bearer sk-sim-test-1')
    expect((seen?.body_json as { model: string }).model).toBe('sim-model')
  })
})
