import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectErrorBody } from '../../support/data-plane.js'
import { startStack, type Stack } from '../../support/harness.js'
import { accessLogFor, chat, expectQueued, RequestWatch, scenarioConfig, scenarioSimConfig, upstreamHas, upstreamOrder, type ChatResult } from '../../support/schedule.js'

// Waiting is bounded per priority (queue.max_wait). Past it the client gets 503 queue_timeout
// with Retry-After, and the request is never sent upstream. X-Sluice-Max-Wait may shorten the
// bound, never lengthen it.

const scenarios = {
  mw: { rpm: 6 }, // one request, then nothing for 10.3 s: everything queued after the first times out
  within: { rpm: 120 }, // 515 ms between requests
  lag: { rpm: 120 },
}
const maxWait = { urgent: '300ms', high: '600ms', normal: '2s', low: '3s' }

function expectQueueTimeout(res: ChatResult): void {
  expect(res.status, res.text).toBe(503)
  const error = expectErrorBody(JSON.parse(res.text), 'queue_timeout')
  expect(error.type).toBe('overloaded_error')
  // From the key's pacer: its next slot is up to 10.3 s away.
  expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1)
  expect(Number(res.headers['retry-after'])).toBeLessThanOrEqual(11)
}

describe('schedule: maximum wait per priority', () => {
  let stack: Stack
  beforeAll(async () => {
    stack = await startStack({ sim: scenarioSimConfig(scenarios), gateway: (simUrl) => scenarioConfig(simUrl, scenarios, { queue: { max_wait: maxWait } }) })
  })
  afterAll(() => stack.close())

  it('past its priority\'s max wait a request gets 503 queue_timeout with Retry-After; X-Sluice-Max-Wait shortens, never lengthens; none goes upstream', async () => {
    const first = await chat(stack.gw.url, { model: 'mw', id: 'mw-first' })
    expect(first.status).toBe(200)

    const [urgent, high, shortened, notLengthened, lowShort] = await Promise.all([
      chat(stack.gw.url, { model: 'mw', id: 'mw-urgent', priority: 'urgent' }),
      chat(stack.gw.url, { model: 'mw', id: 'mw-high', priority: 'high' }),
      chat(stack.gw.url, { model: 'mw', id: 'mw-normal-short', maxWait: '0.15' }),
      chat(stack.gw.url, { model: 'mw', id: 'mw-urgent-long', priority: 'urgent', maxWait: '30' }),
      chat(stack.gw.url, { model: 'mw', id: 'mw-low-short', priority: 'low', maxWait: '0.4' }),
    ])
    for (const res of [urgent, high, shortened, notLengthened, lowShort]) expectQueueTimeout(res as ChatResult)

    const logs = await accessLogFor(stack, ['mw-urgent', 'mw-high', 'mw-normal-short', 'mw-urgent-long', 'mw-low-short'])
    const waited = Object.fromEntries(logs.map((l) => [l.requestId as string, l.totalMs as number]))
    for (const log of logs) expect(log).toMatchObject({ status: 503, error: 'queue_timeout', attempts: 0, provider: null })
    // Timers run on the event loop's millisecond clock: allow them a few ms early against performance.now().
    expect(waited['mw-urgent']).toBeGreaterThanOrEqual(295)
    expect(waited['mw-urgent']).toBeLessThan(1500)
    expect(waited['mw-high']).toBeGreaterThanOrEqual(595)
    expect(waited['mw-high']).toBeLessThan(1800)
    // normal allows 2 s; the header asked for 0.15 s.
    expect(waited['mw-normal-short']).toBeGreaterThanOrEqual(145)
    expect(waited['mw-normal-short']).toBeLessThan(1500)
    // urgent allows 0.3 s; asking for 30 s does not extend it.
    expect(waited['mw-urgent-long']).toBeGreaterThanOrEqual(295)
    expect(waited['mw-urgent-long']).toBeLessThan(1500)
    expect(waited['mw-low-short']).toBeGreaterThanOrEqual(395)
    expect(waited['mw-low-short']).toBeLessThan(2500)

    await upstreamHas(stack, ['mw-first'])
    expect(upstreamOrder(stack, 'mw')).toEqual(['mw-first'])
    expect(stack.sim.stats().keys.mw?.requests).toBe(1)
  })

  it('a request whose turn comes within its max wait is served, and its queue time is logged', async () => {
    const first = await chat(stack.gw.url, { model: 'within', id: 'within-first' })
    expect(first.status).toBe(200)
    const watch = new RequestWatch(stack.gw.port, 'end')
    // The next slot is ~515 ms away: within normal's 2 s, beyond this one's 0.1 s.
    const served = chat(stack.gw.url, { model: 'within', id: 'within-served' })
    const gaveUp = chat(stack.gw.url, { model: 'within', id: 'within-gave-up', maxWait: '0.1', consumer: 'other' })
    await expectQueued(stack, watch, 2, 'within', 2)
    watch.close()
    expectQueueTimeout(await gaveUp)
    expect((await served).status).toBe(200)
    const [log] = await accessLogFor(stack, ['within-served'])
    expect(log).toMatchObject({ status: 200, priority: 'normal', attempts: 1 })
    expect(log?.queuedMs).toBeGreaterThan(300)
    expect(log?.queuedMs).toBeLessThan(2000)
    await upstreamHas(stack, ['within-first', 'within-served'])
    expect(upstreamOrder(stack, 'within')).toEqual(['within-first', 'within-served'])
  })

  it('a request whose max wait has passed is not sent, even when the key frees up in the same event-loop turn', async () => {
    // The key's next slot (~515 ms) comes before this request's deadline (600 ms), but the event
    // loop is busy across both instants: when it runs again, the slot's wake-up and the deadline
    // are due together, and the deadline has passed. The request must time out, not go.
    const first = await chat(stack.gw.url, { model: 'lag', id: 'lag-first' })
    expect(first.status).toBe(200)
    const firstAnsweredAt = performance.now()
    const watch = new RequestWatch(stack.gw.port, 'end')
    const late = chat(stack.gw.url, { model: 'lag', id: 'lag-late', maxWait: '0.6' })
    await expectQueued(stack, watch, 1, 'lag', 1)
    watch.close()
    // Deliberately block this process (gateway included) past the deadline.
    while (performance.now() < firstAnsweredAt + 800) {
      // spin
    }
    const res = await late
    const [log] = await accessLogFor(stack, ['lag-late'])
    expect(res.status, `served after waiting ${String(log?.queuedMs)} ms of its 600`).toBe(503)
    expectQueueTimeout(res)
    expect(upstreamOrder(stack, 'lag')).not.toContain('lag-late')
  })
})
