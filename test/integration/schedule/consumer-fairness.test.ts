import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FakeTime } from '../../support/fake-time.js'
import { startStack, type Stack } from '../../support/harness.js'
import { accessLogFor, chat, expectQueued, RequestWatch, scenarioConfig, scenarioSimConfig, scheduleStatus, upstreamHas, upstreamOrder, type ChatResult } from '../../support/schedule.js'

// Inside one priority, consumers (here: one Authorization value each) are served by the
// smallest virtual token counter, so a heavy client's backlog does not delay a light client:
// the light one's request goes within the next couple of dispatches, FIFO within each client.
// The gateway runs on a FakeTime: the key's pacer lets exactly one request go per 25.8 ms of
// gateway time, and the test moves time 5 ms at a time once everything that could move has,
// so the dispatch order is exact however busy the machine is.

const paced = { rpm: 2400, tpm: 100_000 } // 25.8 ms between requests
const scenarios = { fair: paced, join: paced }

describe('schedule: fairness across consumers in one priority', () => {
  let stack: Stack
  const time = new FakeTime()
  beforeAll(async () => {
    stack = await startStack({ time, sim: scenarioSimConfig(scenarios), gateway: (simUrl) => scenarioConfig(simUrl, scenarios) })
  })
  afterAll(() => stack.close())

  /** Takes the key's pacer slot with a request of its own, so the next ones wait for gateway time. */
  async function takeSlot(scenario: string): Promise<void> {
    const gate = await chat(stack.gw.url, { model: scenario, id: `gate-${scenario}`, consumer: 'gatekeeper' })
    expect(gate.status).toBe(200)
  }

  /** Moves gateway time in 5 ms steps, each once nothing is in flight but what waits in `model`'s queue, until `done()`. */
  async function drive(model: string, done: () => boolean, onStep: () => void | Promise<void> = () => undefined): Promise<void> {
    for (let step = 0; !done() && step < 400; step++) {
      await settled(stack, model)
      await onStep()
      time.advance(5)
    }
  }

  it('10 queued from a heavy client, then 1 from a light one: the light one goes within the first two dispatches', async () => {
    await takeSlot('fair')
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

    let finished = false
    const all = Promise.all([light, ...heavy]).finally(() => (finished = true))
    await drive('fair', () => finished)
    const [lightResult, ...heavyResults] = await all
    expect(lightResult?.status).toBe(200)
    expect(heavyResults.every((r) => r.status === 200)).toBe(true)
    await upstreamHas(stack, ['light-0', ...Array.from({ length: 10 }, (_, i) => `heavy-${i}`)])
    const sent = upstreamOrder(stack, 'fair').filter((id) => id !== 'gate-fair')
    expect(sent.indexOf('light-0'), `order ${sent.join(' ')}`).toBeLessThanOrEqual(1)
    // FIFO within the heavy client.
    expect(sent.filter((id) => id.startsWith('heavy-'))).toEqual(Array.from({ length: 10 }, (_, i) => `heavy-${i}`))
  })

  it('a light client arriving while a heavy backlog drains is dispatched within the next two dispatches', async () => {
    await takeSlot('join')
    const watch = new RequestWatch(stack.gw.port, 'end')
    const heavy: Promise<ChatResult>[] = []
    for (let i = 0; i < 12; i++) heavy.push(chat(stack.gw.url, { model: 'join', id: `heavy-${String(i).padStart(2, '0')}`, consumer: 'heavy-client' }))
    await expectQueued(stack, watch, 12, 'join', 12)

    // Once three of the heavy client's requests went, the light client arrives.
    const dispatched = (): number => upstreamOrder(stack, 'join').filter((id) => id !== 'gate-join').length
    let light: Promise<ChatResult> | null = null
    let sentBefore = -1
    let finished = false
    const heavyDone = Promise.all(heavy)
    await drive('join', () => finished, async () => {
      if (light === null && dispatched() === 3) {
        sentBefore = 3
        light = chat(stack.gw.url, { model: 'join', id: 'light-00', consumer: 'light-client' })
        await watch.count(13)
        void Promise.all([light, heavyDone]).finally(() => (finished = true))
      }
    })
    watch.close()
    expect(light).not.toBeNull()
    expect((await (light as unknown as Promise<ChatResult>)).status).toBe(200)
    expect((await heavyDone).every((r) => r.status === 200)).toBe(true)
    await upstreamHas(stack, ['light-00'])
    const sent = upstreamOrder(stack, 'join').filter((id) => id !== 'gate-join')
    // Level with the heavy client on arrival, the light one goes next or after one more heavy request.
    expect(sent.indexOf('light-00'), `order ${sent.join(' ')}, light arrived after ${sentBefore}`).toBeLessThanOrEqual(sentBefore + 1)
    const [log] = await accessLogFor(stack, ['light-00'])
    expect(log).toMatchObject({ status: 200, priority: 'normal' })
  })
})

/**
 * Resolves once nothing can move without time: every request the gateway holds waits in
 * `model`'s queue, and the simulator has recorded every one that left it. Each look is a round
 * trip, never a sleep.
 */
async function settled(stack: Stack, model: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    const status = await scheduleStatus(stack.gw.url)
    if (status.requests.in_flight === (status.queues[model]?.waiting ?? 0) && stack.sim.stats().totals.in_flight === 0) return
  }
  throw new Error('the gateway never settled')
}
