import OpenAI from 'openai'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FakeTime } from '../../support/fake-time.js'
import { startStack, type Stack } from '../../support/harness.js'
import { scheduleStatus } from '../../support/schedule.js'

// A Responses request waits for a paced key exactly as a chat request does: the same queue,
// the same pacer slot. The gateway runs on a FakeTime; the test moves it.

describe('the Responses API goes through the queue and the pacer', () => {
  let stack: Stack
  const time = new FakeTime()

  beforeAll(async () => {
    stack = await startStack({
      time,
      sim: { keys: { 'sk-paced-1': { id: 'paced' } }, completion_tokens: 2 },
      // 60 RPM: sluice spaces requests by 60 s / (0.97 × 60) ≈ 1031 ms.
      gateway: (simUrl) => ({
        providers: { oa: { type: 'openai', base_url: `${simUrl}/v1`, keys: [{ id: 'paced', key: 'sk-paced-1', rpm: 60 }] } },
        models: { paced: { targets: [{ provider: 'oa', model: 'gpt-up' }] } },
      }),
    })
  })
  afterAll(() => stack?.close())

  it('a response created right after a chat request waits for the pacer\'s next slot', async () => {
    const client = new OpenAI({ baseURL: stack.baseURL, apiKey: 'c', maxRetries: 0 })
    await client.chat.completions.create({ model: 'paced', messages: [{ role: 'user', content: 'x' }], max_tokens: 2 })
    const pending = client.responses.create({ model: 'paced', input: 'x', max_output_tokens: 2 }, { headers: { 'x-request-id': 'paced-resp' } })
    for (let i = 0; i < 200 && (await scheduleStatus(stack.gw.url)).queues.paced?.waiting !== 1; i++);
    expect((await scheduleStatus(stack.gw.url)).queues.paced?.waiting).toBe(1)
    time.advance(900)
    expect((await scheduleStatus(stack.gw.url)).queues.paced?.waiting).toBe(1) // still before its slot
    time.advance(200)
    const res = await pending
    expect(res.status).toBe('completed')
    const log = await stack.logs.waitForAccessLog((all) => all.some((r) => r.requestId === 'paced-resp'))
    const queuedMs = log.find((r) => r.requestId === 'paced-resp')?.queuedMs as number
    expect(queuedMs).toBeGreaterThanOrEqual(900)
    expect(queuedMs).toBeLessThanOrEqual(1_100)
  })
})
