import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startStack, type Stack } from '../../support/harness.js'
import { accessLogFor, chat, expectQueued, holdKey, RequestWatch, scenarioConfig, scenarioSimConfig, upstreamHas, upstreamOrder, type ChatResult } from '../../support/schedule.js'

// Inside one priority, consumers (here: one Authorization value each) are served by the
// smallest virtual token counter, so a heavy client's backlog does not delay a light client:
// the light one's request goes within the next couple of dispatches, FIFO within each client.

const paced = { rpm: 2400, tpm: 100_000 } // 25.8 ms between requests; holdKey holds the key ~0.33 s
const scenarios = { fair: paced, join: paced }

describe('schedule: fairness across consumers in one priority', () => {
  let stack: Stack
  beforeAll(async () => {
    stack = await startStack({ sim: scenarioSimConfig(scenarios), gateway: (simUrl) => scenarioConfig(simUrl, scenarios) })
  })
  afterAll(() => stack.close())

  it('10 queued from a heavy client, then 1 from a light one: the light one goes within the first two dispatches', async () => {
    const gate = await holdKey(stack, 'fair')
    const watch = new RequestWatch(stack.gw.port, 'end')
    const heavy: Promise<ChatResult>[] = []
    // One at a time, so their arrival order is known.
    for (let i = 0; i < 10; i++) {
      heavy.push(chat(stack.gw.url, { model: 'fair', id: `heavy-${i}`, consumer: 'heavy-client' }))
      await watch.count(i + 1)
    }
    await expectQueued(stack, watch, 10, 'fair', 10)
    const light = chat(stack.gw.url, { model: 'fair', id: 'light-0', consumer: 'light-client' })
    await expectQueued(stack, watch, 11, 'fair', 11)
    watch.close()

    expect((await light).status).toBe(200)
    expect((await Promise.all(heavy)).every((r) => r.status === 200)).toBe(true)
    await gate.result
    await upstreamHas(stack, ['light-0', 'gate-fair', ...Array.from({ length: 10 }, (_, i) => `heavy-${i}`)])
    const sent = upstreamOrder(stack, 'fair').filter((id) => id !== 'gate-fair')
    expect(sent.indexOf('light-0'), `order ${sent.join(' ')}`).toBeLessThanOrEqual(1)
    // FIFO within the heavy client.
    expect(sent.filter((id) => id.startsWith('heavy-'))).toEqual(Array.from({ length: 10 }, (_, i) => `heavy-${i}`))
  })

  it('a light client arriving while a heavy backlog drains is dispatched within the next two dispatches', async () => {
    const gate = await holdKey(stack, 'join')
    const watch = new RequestWatch(stack.gw.port, 'end')
    const upstream = new RequestWatch(stack.sim.port)
    const heavy: Promise<ChatResult>[] = []
    for (let i = 0; i < 12; i++) heavy.push(chat(stack.gw.url, { model: 'join', id: `heavy-${String(i).padStart(2, '0')}`, consumer: 'heavy-client' }))
    await expectQueued(stack, watch, 12, 'join', 12)
    // The key opens; once three of the heavy client's requests went, the light client arrives.
    await upstream.count(4) // the gate and three heavy ones
    const light = chat(stack.gw.url, { model: 'join', id: 'light-00', consumer: 'light-client' })
    await watch.count(13)
    const sentBefore = upstream.ids.length - 1 // heavy ones dispatched before the light one queued
    expect(sentBefore).toBeLessThan(12) // still a backlog when it arrived
    watch.close()

    expect((await light).status).toBe(200)
    expect((await Promise.all(heavy)).every((r) => r.status === 200)).toBe(true)
    await gate.result
    upstream.close()
    await upstreamHas(stack, ['light-00', 'gate-join'])
    const sent = upstreamOrder(stack, 'join').filter((id) => id !== 'gate-join')
    // Level with the heavy client on arrival, the light one goes next or after one more heavy
    // request; one heavy dispatch may also be on its way to the simulator, uncounted, as it queues.
    expect(sent.indexOf('light-00'), `order ${sent.join(' ')}, light arrived after ${sentBefore}`).toBeLessThanOrEqual(sentBefore + 2)
    const [log] = await accessLogFor(stack, ['light-00'])
    expect(log).toMatchObject({ status: 200, priority: 'normal' })
  })
})
