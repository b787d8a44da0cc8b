import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectErrorBody } from '../../support/data-plane.js'
import { startStack, type Stack } from '../../support/harness.js'
import {
  accessLogFor, chat, expectQueued, holdKey, RequestWatch, scenarioConfig, scenarioSimConfig, scheduleStatus, upstreamHas, upstreamOrder, upstreamRecords, type ChatResult,
} from '../../support/schedule.js'

// A full queue (queue.max_size, or queue.per_consumer for one client) answers by its
// `when_full` policy: reject the arrival, shed the newest of the lowest priority for a more
// urgent arrival, or let the arrival skip the queue — but never the pacer. Refused and shed
// requests get 503 queue_full with Retry-After and never reach the upstream.

const paced = { rpm: 2400, tpm: 100_000 } // holdKey holds the key ~0.33 s; then 25.8 ms between requests

function expectQueueFull(res: ChatResult): string {
  expect(res.status, res.text).toBe(503)
  const error = expectErrorBody(JSON.parse(res.text), 'queue_full')
  expect(error.type).toBe('overloaded_error')
  expect(res.headers['retry-after']).toMatch(/^[1-9]\d*$/)
  return error.message
}

async function startFor(scenarios: Record<string, typeof paced>, queue: Record<string, unknown>): Promise<Stack> {
  return startStack({ sim: scenarioSimConfig(scenarios), gateway: (simUrl) => scenarioConfig(simUrl, scenarios, { queue }) })
}

describe('schedule: when_full reject, and the per-consumer cap', () => {
  let stack: Stack
  beforeAll(async () => {
    stack = await startFor({ rej: paced, cap: paced }, { max_size: 3, per_consumer: 2, when_full: 'reject' })
  })
  afterAll(() => stack.close())

  it('reject: an arrival at a full queue gets 503 queue_full with Retry-After at once; the queued ones are served', async () => {
    const gate = await holdKey(stack, 'rej')
    const watch = new RequestWatch(stack.gw.port, 'end')
    const queued = ['rej-1', 'rej-2', 'rej-3'].map((id, i) => chat(stack.gw.url, { model: 'rej', id, consumer: `c${i}`, priority: 'urgent' }))
    await expectQueued(stack, watch, 3, 'rej', 3)
    watch.close()

    const refused = await chat(stack.gw.url, { model: 'rej', id: 'rej-4', consumer: 'c4', priority: 'urgent' })
    expect(expectQueueFull(refused)).toContain('3 requests are waiting')
    // Answered while the others still wait: nothing has gone upstream since the gate.
    expect(upstreamOrder(stack, 'rej')).toEqual([])

    expect((await Promise.all(queued)).map((r) => r.status)).toEqual([200, 200, 200])
    await gate.result
    expect(upstreamOrder(stack, 'rej')).not.toContain('rej-4')
    const [log] = await accessLogFor(stack, ['rej-4'])
    expect(log).toMatchObject({ status: 503, error: 'queue_full', outcome: 'rejected', attempts: 0, provider: null })
  })

  it('per_consumer: a client with 2 waiting gets 503 queue_full for its third; another client still queues', async () => {
    const gate = await holdKey(stack, 'cap')
    const watch = new RequestWatch(stack.gw.port, 'end')
    const mine = ['cap-a1', 'cap-a2'].map((id) => chat(stack.gw.url, { model: 'cap', id, consumer: 'client-a' }))
    await expectQueued(stack, watch, 2, 'cap', 2)

    const third = await chat(stack.gw.url, { model: 'cap', id: 'cap-a3', consumer: 'client-a' })
    expect(expectQueueFull(third)).toContain('2 requests waiting')
    const other = chat(stack.gw.url, { model: 'cap', id: 'cap-b1', consumer: 'client-b' })
    await expectQueued(stack, watch, 4, 'cap', 3)
    watch.close()

    expect((await Promise.all([...mine, other])).map((r) => r.status)).toEqual([200, 200, 200])
    await gate.result
    expect(upstreamOrder(stack, 'cap')).not.toContain('cap-a3')
  })
})

describe('schedule: when_full shed-lowest', () => {
  let stack: Stack
  beforeAll(async () => {
    stack = await startFor({ shed: paced }, { max_size: 2, when_full: 'shed-lowest' })
  })
  afterAll(() => stack.close())

  it('a low arrival into a full queue of lows is refused; an urgent arrival evicts the newest low', async () => {
    const gate = await holdKey(stack, 'shed')
    const watch = new RequestWatch(stack.gw.port, 'end')
    const low1 = chat(stack.gw.url, { model: 'shed', id: 'shed-l1', priority: 'low' })
    await expectQueued(stack, watch, 1, 'shed', 1)
    const low2 = chat(stack.gw.url, { model: 'shed', id: 'shed-l2', priority: 'low' })
    await expectQueued(stack, watch, 2, 'shed', 2)

    // Same priority as the lowest waiting: it outranks nobody, so it is the one refused.
    const low3 = await chat(stack.gw.url, { model: 'shed', id: 'shed-l3', priority: 'low' })
    expectQueueFull(low3)

    const urgent = chat(stack.gw.url, { model: 'shed', id: 'shed-u1', priority: 'urgent' })
    const shed = await low2
    expect(expectQueueFull(shed)).toMatch(/urgent.*low/)
    await expectQueued(stack, watch, 4, 'shed', 2)
    watch.close()
    const status = await scheduleStatus(stack.gw.url)
    expect(status.queues.shed?.by_priority).toEqual({ urgent: 1, high: 0, normal: 0, low: 1 })

    expect((await urgent).status).toBe(200)
    expect((await low1).status).toBe(200)
    await gate.result
    await upstreamHas(stack, ['shed-u1', 'shed-l1'])
    const sent = upstreamOrder(stack, 'shed').filter((id) => id !== 'gate-shed')
    // Only these two went; their order is priority-order.test.ts's concern.
    expect([...sent].sort()).toEqual(['shed-l1', 'shed-u1'])
    const logs = await accessLogFor(stack, ['shed-l2', 'shed-l3'])
    for (const log of logs) expect(log).toMatchObject({ status: 503, error: 'queue_full', priority: 'low', attempts: 0 })
  })
})

describe('schedule: when_full passthrough', () => {
  let stack: Stack
  beforeAll(async () => {
    stack = await startFor({ pass: paced }, { max_size: 1, when_full: 'passthrough' })
  })
  afterAll(() => stack.close())

  it('an arrival at a full queue skips the queue but still waits for the key: served, not refused, not early', async () => {
    const gate = await holdKey(stack, 'pass')
    const watch = new RequestWatch(stack.gw.port, 'end')
    const queued = chat(stack.gw.url, { model: 'pass', id: 'pass-q1', priority: 'urgent' })
    await expectQueued(stack, watch, 1, 'pass', 1)
    const skipping = chat(stack.gw.url, { model: 'pass', id: 'pass-p1', priority: 'low' })
    await expectQueued(stack, watch, 2, 'pass', 2)
    watch.close()
    const status = await scheduleStatus(stack.gw.url)
    expect(status.queues.pass).toMatchObject({ waiting: 2, bypassing: 1 })
    expect(upstreamOrder(stack, 'pass')).toEqual([])

    expect((await skipping).status).toBe(200)
    expect((await queued).status).toBe(200)
    await gate.result
    await upstreamHas(stack, ['gate-pass', 'pass-q1', 'pass-p1'])
    const records = upstreamRecords(stack, 'pass')
    const at = (id: string): number => records.find((r) => r.headers['x-request-id'] === id)?.started_at ?? NaN
    // The gate's ~525 tokens hold the key ~325 ms: the skipping request went no earlier.
    expect(at('pass-p1') - at('gate-pass')).toBeGreaterThanOrEqual(250)
    expect(at('pass-q1') - at('gate-pass')).toBeGreaterThanOrEqual(250)
    const [log] = await accessLogFor(stack, ['pass-p1'])
    expect(log).toMatchObject({ status: 200, priority: 'low', attempts: 1 })
    expect(log?.queuedMs).toBeGreaterThanOrEqual(200)
  })
})
