import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectErrorBody } from '../../support/data-plane.js'
import { FakeTime } from '../../support/fake-time.js'
import { startStack, type Stack } from '../../support/harness.js'
import { accessLogFor, chat, expectQueued, RequestWatch, scenarioConfig, scenarioSimConfig, upstreamHas, upstreamOrder, type ChatResult } from '../../support/schedule.js'

// Waiting is bounded per priority (queue.max_wait). Past it the client gets 503 queue_timeout
// with Retry-After, and the request is never sent upstream. X-Sluice-Max-Wait may shorten the
// bound, never lengthen it. The gateway runs on a FakeTime: a deadline passes when the test moves
// time past it, so each bound is checked to the millisecond of gateway time.

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

/** Whether a promise has settled by the time the event loop has turned once more. */
async function settledYet(p: Promise<unknown>): Promise<boolean> {
  let done = false
  void p.then(() => (done = true), () => (done = true))
  await new Promise((resolve) => setImmediate(resolve))
  return done
}

describe('schedule: maximum wait per priority', () => {
  let stack: Stack
  const time = new FakeTime()
  beforeAll(async () => {
    stack = await startStack({ time, sim: scenarioSimConfig(scenarios), gateway: (simUrl) => scenarioConfig(simUrl, scenarios, { queue: { max_wait: maxWait } }) })
  })
  afterAll(() => stack.close())

  it('past its priority\'s max wait a request gets 503 queue_timeout with Retry-After; X-Sluice-Max-Wait shortens, never lengthens; none goes upstream', async () => {
    const first = await chat(stack.gw.url, { model: 'mw', id: 'mw-first' })
    expect(first.status).toBe(200)

    const watch = new RequestWatch(stack.gw.port, 'end')
    const asked = {
      urgent: chat(stack.gw.url, { model: 'mw', id: 'mw-urgent', priority: 'urgent' }),
      high: chat(stack.gw.url, { model: 'mw', id: 'mw-high', priority: 'high' }),
      // normal allows 2 s; the header asks for 0.15 s.
      shortened: chat(stack.gw.url, { model: 'mw', id: 'mw-normal-short', maxWait: '0.15' }),
      // urgent allows 0.3 s; asking for 30 s does not extend it.
      notLengthened: chat(stack.gw.url, { model: 'mw', id: 'mw-urgent-long', priority: 'urgent', maxWait: '30' }),
      lowShort: chat(stack.gw.url, { model: 'mw', id: 'mw-low-short', priority: 'low', maxWait: '0.4' }),
    }
    await expectQueued(stack, watch, 5, 'mw', 5)
    watch.close()
    // Each is answered exactly when its bound passes in gateway time, not a millisecond before.
    const steps: [number, (keyof typeof asked)[]][] = [
      [150, ['shortened']],
      [300, ['urgent', 'notLengthened']],
      [400, ['lowShort']],
      [600, ['high']],
    ]
    let now = 0
    const answered = new Set<keyof typeof asked>()
    for (const [at, due] of steps) {
      time.advance(at - 1 - now)
      for (const name of due) expect(await settledYet(asked[name]), `${name} before ${at} ms`).toBe(false)
      time.advance(1)
      now = at
      for (const name of due) {
        expectQueueTimeout(await asked[name])
        answered.add(name)
      }
    }
    expect(answered.size).toBe(5)

    const logs = await accessLogFor(stack, ['mw-urgent', 'mw-high', 'mw-normal-short', 'mw-urgent-long', 'mw-low-short'])
    for (const log of logs) expect(log).toMatchObject({ status: 503, error: 'queue_timeout', attempts: 0, provider: null })

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
    time.advance(100)
    expectQueueTimeout(await gaveUp)
    expect(await settledYet(served)).toBe(false)
    time.advance(900)
    expect((await served).status).toBe(200)
    const [log] = await accessLogFor(stack, ['within-served'])
    expect(log).toMatchObject({ status: 200, priority: 'normal', attempts: 1 })
    // It went at the key's next slot, 60 / (0.97 × 120) s after the first request.
    expect(log?.queuedMs).toBeGreaterThan(500)
    expect(log?.queuedMs).toBeLessThan(520)
    await upstreamHas(stack, ['within-first', 'within-served'])
    expect(upstreamOrder(stack, 'within')).toEqual(['within-first', 'within-served'])
  })

  it('a request whose max wait has passed is not sent, even when the key frees up in the same event-loop turn', async () => {
    // The key's next slot (~515 ms) comes before this request's deadline (600 ms), but the event
    // loop is busy across both instants: when it runs again, the slot's wake-up and the deadline
    // are due together, and the deadline has passed. The request must time out, not go.
    const first = await chat(stack.gw.url, { model: 'lag', id: 'lag-first' })
    expect(first.status).toBe(200)
    const watch = new RequestWatch(stack.gw.port, 'end')
    const late = chat(stack.gw.url, { model: 'lag', id: 'lag-late', maxWait: '0.6' })
    await expectQueued(stack, watch, 1, 'lag', 1)
    watch.close()
    // A blocked event loop, exactly: the clock jumps 800 ms with no timer run, then both the
    // slot's wake-up (515 ms) and the deadline (600 ms) fire in one turn, the wake-up first.
    time.t += 800
    time.advance(0)
    const res = await late
    const [log] = await accessLogFor(stack, ['lag-late'])
    expect(res.status, `served after waiting ${String(log?.queuedMs)} ms of its 600`).toBe(503)
    expectQueueTimeout(res)
    expect(upstreamOrder(stack, 'lag')).not.toContain('lag-late')
  })
})
