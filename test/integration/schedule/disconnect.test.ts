import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { send } from '../../support/data-plane.js'
import { startStack, type Stack } from '../../support/harness.js'
import { accessLogFor, chat, expectQueued, RequestWatch, scenarioConfig, scenarioSimConfig, scheduleStatus, upstreamHas, upstreamOrder } from '../../support/schedule.js'

// A client that goes away while its request waits is taken out of the queue at once: it is
// never dispatched, the queue depth drops, and nothing stays in flight.

const scenarios = {
  gone: { rpm: 120 }, // 515 ms between requests
}

describe('schedule: client disconnect while waiting', () => {
  let stack: Stack
  beforeAll(async () => {
    stack = await startStack({ sim: scenarioSimConfig(scenarios), gateway: (simUrl) => scenarioConfig(simUrl, scenarios) })
  })
  afterAll(() => stack.close())

  it('aborted while queued (a JSON and a streaming request): removed at once, never sent, 499 logged, depth and in-flight back to 0', async () => {
    const first = await chat(stack.gw.url, { model: 'gone', id: 'gone-first' })
    expect(first.status).toBe(200)

    const watch = new RequestWatch(stack.gw.port, 'end')
    const jsonAbort = new AbortController()
    const streamAbort = new AbortController()
    const json = chat(stack.gw.url, { model: 'gone', id: 'gone-json', signal: jsonAbort.signal })
    const stream = chat(stack.gw.url, { model: 'gone', id: 'gone-stream', stream: true, signal: streamAbort.signal, consumer: 'other' })
    await expectQueued(stack, watch, 2, 'gone', 2)

    jsonAbort.abort()
    expect((await json).aborted).toBe(true)
    const [jsonLog] = await accessLogFor(stack, ['gone-json'])
    expect(jsonLog).toMatchObject({ status: 499, outcome: 'client_abort', attempts: 0, provider: null })
    let status = await scheduleStatus(stack.gw.url)
    expect(status.queues.gone?.waiting).toBe(1)

    streamAbort.abort()
    expect((await stream).aborted).toBe(true)
    const [streamLog] = await accessLogFor(stack, ['gone-stream'])
    expect(streamLog).toMatchObject({ status: 499, outcome: 'client_abort', attempts: 0, stream: true })
    status = await scheduleStatus(stack.gw.url)
    expect(status.queues.gone).toMatchObject({ waiting: 0, by_priority: { urgent: 0, high: 0, normal: 0, low: 0 }, bypassing: 0 })
    expect(status.requests.in_flight).toBe(0)

    // A request queued after them is the next one sent: had either been left in the queue, it
    // would have gone first.
    const after = chat(stack.gw.url, { model: 'gone', id: 'gone-after' })
    await expectQueued(stack, watch, 3, 'gone', 1)
    watch.close()
    expect((await after).status).toBe(200)
    await upstreamHas(stack, ['gone-first', 'gone-after'])
    expect(upstreamOrder(stack, 'gone')).toEqual(['gone-first', 'gone-after'])
    expect(stack.sim.stats().keys.gone).toMatchObject({ requests: 2, aborted: 0, in_flight: 0 })

    status = await scheduleStatus(stack.gw.url)
    expect(status.requests.in_flight).toBe(0)
    expect(status.queues.gone?.waiting).toBe(0)
    const pacer = status.pacers.find((p) => p.provider === 'p-gone')
    expect(pacer?.in_flight).toBe(0)
    const metrics = (await send(stack.gw.url, '/metrics')).text
    expect(metrics).toContain('sluice_queue_rejected_total{model="gone",priority="normal",reason="client_gone"} 2')
  })
})
