import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startStack, type Stack } from '../../support/harness.js'
import { chat, RequestWatch, scenarioConfig, scenarioSimConfig, upstreamHas, upstreamRecords } from '../../support/schedule.js'

// With `tpm` set, a key is also paced by tokens: each request is charged at dispatch its
// estimated prompt plus max_tokens (or pacing.output_reserve when it sets none), and the charge
// is settled from the answer's usage.

const scenarios = { reserve: { tpm: 100_000 }, settle: { tpm: 100_000 } }

describe('schedule: token pacing (tpm, output_reserve, usage settlement)', () => {
  let stack: Stack
  beforeAll(async () => {
    stack = await startStack({ sim: scenarioSimConfig(scenarios), gateway: (simUrl) => scenarioConfig(simUrl, scenarios, { pacing: { output_reserve: 1000 } }) })
  })
  afterAll(() => stack.close())

  /** Sends a chat request with no max_tokens at all. */
  const bare = (model: string, id: string) =>
    fetch(`${stack.gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': id },
      body: JSON.stringify({ model, messages: [{ role: 'user', content: id }] }),
    }).then(async (res) => ({ status: res.status, text: await res.text() }))

  it('a request without max_tokens is charged the output reserve: the next one waits ~0.6 s of tokens', async () => {
    // The first is stalled upstream, so its usage cannot settle the charge before the second is due.
    stack.sim.script([{ kind: 'stall_before_headers', ms: 900, match: { model: 'up-reserve' } }])
    const upstream = new RequestWatch(stack.sim.port)
    const first = bare('reserve', 'reserve-1')
    await upstream.count(1)
    upstream.close()
    const second = await chat(stack.gw.url, { model: 'reserve', id: 'reserve-2', maxTokens: 4 })
    expect(second.status).toBe(200)
    expect((await first).status).toBe(200)
    await upstreamHas(stack, ['reserve-1', 'reserve-2'])
    const [a, b] = upstreamRecords(stack, 'reserve')
    // ~1010 tokens at 0.97 × 100 000/min = 625 ms.
    expect((b?.started_at ?? 0) - (a?.started_at ?? 0)).toBeGreaterThanOrEqual(550)
  })

  it('the answer\'s usage settles the charge: once the first is answered, the next one goes at once', async () => {
    expect((await bare('settle', 'settle-1')).status).toBe(200)
    const answeredAt = Date.now()
    const second = await chat(stack.gw.url, { model: 'settle', id: 'settle-2', maxTokens: 4 })
    expect(second.status).toBe(200)
    await upstreamHas(stack, ['settle-1', 'settle-2'])
    const [, b] = upstreamRecords(stack, 'settle')
    // Charged ~1010, used ~30: the unused reserve is given back, so no ~600 ms wait.
    expect((b?.started_at ?? 0) - answeredAt).toBeLessThan(300)
  })
})
