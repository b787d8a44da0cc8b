import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { within } from '../../support/failover.js'
import { FakeTime } from '../../support/fake-time.js'
import { startStack, type Stack } from '../../support/harness.js'
import { accessLogFor, chat, expectQueued, RequestWatch, scenarioConfig, scenarioSimConfig, scheduleStatus, upstreamHas, upstreamRecords } from '../../support/schedule.js'

// With `tpm` set, a key is also paced by tokens: each request is charged at dispatch its
// estimated prompt plus max_tokens (or pacing.output_reserve when it sets none), and the charge
// is settled from the answer's usage. The gateway runs on a FakeTime, so the waits are exact.

const scenarios = { reserve: { tpm: 100_000 }, settle: { tpm: 100_000 } }

describe('schedule: token pacing (tpm, output_reserve, usage settlement)', () => {
  let stack: Stack
  const time = new FakeTime()
  beforeAll(async () => {
    stack = await startStack({ time, sim: scenarioSimConfig(scenarios), gateway: (simUrl) => scenarioConfig(simUrl, scenarios, { pacing: { output_reserve: 1000 } }) })
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
    stack.sim.script([{ kind: 'stall_before_headers', ms: 3_000, match: { model: 'up-reserve' } }])
    const upstream = new RequestWatch(stack.sim.port)
    const first = bare('reserve', 'reserve-1')
    await upstream.count(1)
    upstream.close()
    const watch = new RequestWatch(stack.gw.port, 'end')
    const second = chat(stack.gw.url, { model: 'reserve', id: 'reserve-2', maxTokens: 4 })
    await expectQueued(stack, watch, 1, 'reserve', 1)
    watch.close()
    // ~1010 tokens at 0.97 × 100 000/min = 625 ms.
    time.advance(600)
    expect((await scheduleStatus(stack.gw.url)).queues.reserve?.waiting).toBe(1)
    time.advance(100)
    expect((await second).status).toBe(200)
    expect((await first).status).toBe(200)
    await upstreamHas(stack, ['reserve-1', 'reserve-2'])
    expect(upstreamRecords(stack, 'reserve').map((r) => r.headers['x-request-id'])).toEqual(['reserve-1', 'reserve-2'])
    const [log] = await accessLogFor(stack, ['reserve-2'])
    expect(log?.queuedMs).toBeGreaterThanOrEqual(600)
    expect(log?.queuedMs).toBeLessThanOrEqual(700)
  })

  it('the answer\'s usage settles the charge: once the first is answered, the next one goes at once', async () => {
    expect((await bare('settle', 'settle-1')).status).toBe(200)
    const watch = new RequestWatch(stack.gw.port, 'end')
    const pending = chat(stack.gw.url, { model: 'settle', id: 'settle-2', maxTokens: 4 })
    await watch.count(1)
    watch.close()
    // Charged ~1010, used ~30: the unused reserve is given back, so what is left to wait is the
    // ~30 tokens used (~19 ms), not the ~600 ms of the reserve.
    time.advance(50)
    const second = await within(pending, 5_000, 'the second request after 50 ms of gateway time')
    expect(second.status).toBe(200)
    await upstreamHas(stack, ['settle-1', 'settle-2'])
    const [log] = await accessLogFor(stack, ['settle-2'])
    expect(log?.queuedMs).toBeLessThanOrEqual(50)
  })
})
