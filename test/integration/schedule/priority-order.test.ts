import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startStack, type Stack } from '../../support/harness.js'
import { accessLogFor, chat, expectQueued, holdKey, RequestWatch, scenarioConfig, scenarioSimConfig, upstreamHas, upstreamOrder } from '../../support/schedule.js'

// With a backlog of every priority, the dispatcher serves them by Deficit Round Robin with
// weights urgent 8 : high 4 : normal 2 : low 1 — so urgent work overtakes low work that came
// first, and low work still gets its share. The order is read from what the simulator received.
//
// The backlog forms behind a "gate" (holdKey): one request whose large max_tokens fills the
// key's token pacer for ~0.33 s. Every request sent meanwhile queues; the test checks that they
// all did, and that nothing else went upstream, before the gap ends.

const paced = { rpm: 2400, tpm: 100_000 } // 25.8 ms between requests; the gate's ~525 tokens hold the key ~0.33 s
const scenarios = { order: paced, starve: paced, first: paced }

/** Fixed-width ids (`<tag>-<letter><nn>`), so every request costs the same and the letter is at index 2. */
const idOf = (tag: string, priority: string, i: number): string => `${tag}-${priority[0]}${String(i).padStart(2, '0')}`

describe('schedule: priority order under a backlog', () => {
  let stack: Stack
  beforeAll(async () => {
    stack = await startStack({ sim: scenarioSimConfig(scenarios), gateway: (simUrl) => scenarioConfig(simUrl, scenarios) })
  })
  afterAll(() => stack.close())

  /** Holds the key, queues `plan` (sent in order), checks all of it waits, then returns the ids in the order the upstream got them. */
  async function backlog(scenario: string, plan: readonly [id: string, priority: string][]): Promise<string[]> {
    const gate = await holdKey(stack, scenario)
    const watch = new RequestWatch(stack.gw.port, 'end')
    const pending = plan.map(([id, priority]) => chat(stack.gw.url, { model: scenario, id, priority }))
    await expectQueued(stack, watch, plan.length, scenario, plan.length)
    watch.close()
    expect(upstreamOrder(stack, scenario)).toEqual([]) // the gate is still stalled upstream; nothing else went

    const results = await Promise.all(pending)
    expect(results.map((r) => r.status)).toEqual(plan.map(() => 200))
    expect((await gate.result).status).toBe(200)
    await upstreamHas(stack, [`gate-${scenario}`, ...plan.map(([id]) => id)])
    const sent = upstreamOrder(stack, scenario).filter((id) => id !== `gate-${scenario}`)
    expect([...sent].sort()).toEqual(plan.map(([id]) => id).sort())
    return sent
  }

  it('all four priorities backlogged: every urgent goes before every low, mean positions follow priority, low is served', async () => {
    const plan: [string, string][] = [[idOf('o', 'urgent', 9), 'urgent']]
    // Then lowest first, so the queue must reorder them.
    for (const p of ['low', 'normal', 'high', 'urgent']) for (let i = 0; i < 4; i++) plan.push([idOf('o', p, i), p])
    const sent = await backlog('order', plan)

    const at = (letter: string): number[] => sent.flatMap((id, i) => (id[2] === letter ? [i] : []))
    const [u, h, n, l] = [at('u'), at('h'), at('n'), at('l')]
    const order = `order ${sent.join(' ')}`
    expect(Math.max(...u), order).toBeLessThan(Math.min(...l))
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length
    expect(mean(u), order).toBeLessThan(mean(h))
    expect(mean(h), order).toBeLessThan(mean(n))
    expect(mean(n), order).toBeLessThan(mean(l))
    // Low is not starved by normal: it gets a turn before normal's backlog is gone.
    expect(Math.min(...l), order).toBeLessThan(Math.max(...n))

    const logs = await accessLogFor(stack, plan.map(([id]) => id))
    for (const [i, log] of logs.entries()) {
      expect(log).toMatchObject({ status: 200, priority: plan[i]?.[1], attempts: 1 })
      expect(log.queuedMs).toBeGreaterThan(0)
    }
  })

  it('urgent backlog of 12 and 3 low: low gets its 1-in-9 turn before urgent runs out', async () => {
    const plan: [string, string][] = []
    for (let i = 0; i < 12; i++) plan.push([idOf('s', 'urgent', i), 'urgent'])
    for (let i = 0; i < 3; i++) plan.push([idOf('s', 'low', i), 'low'])
    const sent = await backlog('starve', plan)
    const firstLow = sent.findIndex((id) => id[2] === 'l')
    const lastUrgent = sent.map((id) => id[2]).lastIndexOf('u')
    // DRR 8:1 between the two backlogged priorities: low's first turn comes within 9 dispatches.
    expect(firstLow, `order ${sent.join(' ')}`).toBeGreaterThanOrEqual(0)
    expect(firstLow, `order ${sent.join(' ')}`).toBeLessThanOrEqual(8)
    expect(firstLow, `order ${sent.join(' ')}`).toBeLessThan(lastUrgent)
  })

  it('a low request queued first does not go before urgent ones queued while the key is still busy', async () => {
    // The low one waits alone for a moment; urgent ones join it before the key frees up. At the
    // next free slot all five are waiting, and urgent is served first.
    const plan: [string, string][] = [[idOf('f', 'low', 0), 'low']]
    for (let i = 0; i < 4; i++) plan.push([idOf('f', 'urgent', i), 'urgent'])
    const sent = await backlog('first', plan)
    expect(sent.map((id) => id[2]).join(''), `order ${sent.join(' ')}`).toBe('uuuul')
  })
})
