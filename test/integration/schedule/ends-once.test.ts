import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectErrorBody } from '../../support/data-plane.js'
import { FakeTime } from '../../support/fake-time.js'
import { startStack, type Stack } from '../../support/harness.js'
import { chat, RequestWatch, rpm429Body, scenarioConfig, scenarioSimConfig, scheduleStatus, upstreamRecords, type ChatResult } from '../../support/schedule.js'

// Every request ends exactly once: a 200, or a clear 503 (queue_full, queue_timeout) or 429
// (rate_limit_exceeded) within its max wait — or the client left. None is lost, none is
// answered twice, each has exactly one access-log line, and only requests that were sent
// upstream ever reach the simulator. The gateway runs on a FakeTime that the test moves in
// 10 ms steps, each once everything that could move has moved, so every window below is exact in
// gateway time however busy the machine is.

const scenarios = { burst: { rpm: 2400 } } // 25.8 ms between requests (51.5 ms once retreated) against a burst of 60
const maxWait = { urgent: 1200, high: 1000, normal: 800, low: 500 } // ms
const priorities = ['urgent', 'high', 'normal', 'low'] as const

interface Planned {
  readonly id: string
  readonly priority: (typeof priorities)[number]
  /** X-Sluice-Max-Wait in seconds, when set. */
  readonly shortWait: number | null
  readonly abort: AbortController | null
  readonly stream: boolean
}

describe('schedule: every request ends exactly once', () => {
  let stack: Stack
  const time = new FakeTime()
  beforeAll(async () => {
    stack = await startStack({
      time,
      sim: scenarioSimConfig(scenarios),
      gateway: (simUrl) => scenarioConfig(simUrl, scenarios, { queue: { max_size: 40, when_full: 'shed-lowest', max_wait: maxWait } }),
    })
  })
  afterAll(() => stack.close())

  it('a burst of 60 (mixed priorities, short waits, aborts, two upstream 429s) at a slow key', async () => {
    // The first request sent gets a 429 whose pause outlasts its 0.2 s wait (→ 429
    // rate_limit_exceeded); the next one dispatched gets a short one and goes back to its queue.
    stack.sim.script([
      { kind: 'error', status: 429, body: rpm429Body, headers: { 'retry-after-ms': '300' }, match: { model: 'up-burst' } },
      { kind: 'error', status: 429, body: rpm429Body, headers: { 'retry-after-ms': '100' }, match: { model: 'up-burst' } },
    ])
    const plan: Planned[] = []
    for (let i = 0; i < 60; i++) {
      plan.push({
        id: `burst-${String(i).padStart(2, '0')}`,
        priority: priorities[i % 4] as Planned['priority'],
        shortWait: i % 6 === 5 || i === 0 ? 0.2 : null,
        abort: i % 10 === 7 ? new AbortController() : null,
        stream: i % 3 === 1,
      })
    }
    const watch = new RequestWatch(stack.gw.port, 'end')
    const started = time.now()
    const send = (p: Planned, i: number): Promise<ChatResult> =>
      chat(stack.gw.url, {
        model: 'burst',
        id: p.id,
        priority: p.priority,
        maxWait: p.shortWait === null ? undefined : String(p.shortWait),
        consumer: `client-${i % 3}`,
        stream: p.stream,
        signal: p.abort?.signal,
      })
    // The first alone (it takes the first scripted 429), then the other 59 at once.
    const pending = [send(plan[0] as Planned, 0)]
    await watch.count(1)
    pending.push(...plan.slice(1).map((p, i) => send(p, i + 1)))
    // Once all 60 have been read by the gateway, the clients that give up do so.
    await watch.count(60)
    watch.close()
    for (const p of plan) p.abort?.abort()
    let finished = false
    const all = Promise.all(pending).finally(() => (finished = true))
    // Gateway time moves 10 ms at a time, once every request is either waiting in its queue or done.
    for (let step = 0; !finished && step < 400; step++) {
      await settled(stack)
      time.advance(10)
    }
    const results = await all
    // Every request had its answer within the longest max wait, in gateway time.
    expect(time.now() - started).toBeLessThanOrEqual(maxWait.urgent + 20)

    const byId = new Map<string, ChatResult>(results.map((r) => [r.id, r]))
    const limitOf = (p: Planned): number => (p.shortWait !== null ? Math.min(p.shortWait * 1000, maxWait[p.priority]) : maxWait[p.priority])
    const planOf = new Map(plan.map((p) => [p.id, p]))
    const aborted = results.filter((r) => r.aborted)
    expect(aborted.length).toBeLessThanOrEqual(6)
    for (const p of plan) {
      const r = byId.get(p.id) as ChatResult
      if (p.abort === null) expect(r.aborted, p.id).toBe(false)
      if (r.aborted) continue
      if (r.status === 200) {
        if (p.stream) expect(r.text.trimEnd().endsWith('data: [DONE]'), p.id).toBe(true)
        else expect(JSON.parse(r.text), p.id).toMatchObject({ object: 'chat.completion' })
        continue
      }
      expect([429, 503], `${p.id}: ${r.status} ${r.text}`).toContain(r.status)
      const error = expectErrorBody(JSON.parse(r.text), r.code ?? '')
      if (r.status === 503) expect(['queue_full', 'queue_timeout'], p.id).toContain(error.code)
      else expect(error.code, p.id).toBe('rate_limit_exceeded')
      expect(r.headers['retry-after'], p.id).toMatch(/^[1-9]\d*$/)
    }

    // Exactly one access-log line per request, with the status the client got (499 for the aborted).
    await stack.logs.waitForAccessLog((all) => plan.every((p) => all.some((r) => r.requestId === p.id)))
    const status = await scheduleStatus(stack.gw.url)
    // Read after /status answered, so a second line for any request would have had its chance.
    const finalLogs = stack.logs.accessLog().filter((r) => typeof r.requestId === 'string' && (r.requestId as string).startsWith('burst-'))
    expect(finalLogs).toHaveLength(60)
    expect(new Set(finalLogs.map((r) => r.requestId)).size).toBe(60)
    for (const log of finalLogs) {
      const r = byId.get(log.requestId as string) as ChatResult
      // An abort can land after the gateway finished the answer: then the log says 200.
      if (r.aborted) expect([499, 200], r.id).toContain(log.status)
      else expect(log.status, r.id).toBe(r.status)
      // Served, or refused with a clear answer, within its max wait (a full queue answers at once).
      if (log.status !== 499) expect(log.queuedMs as number, r.id).toBeLessThanOrEqual(limitOf(planOf.get(r.id) as Planned))
      if (log.error === 'queue_full') expect(log.queuedMs, r.id).toBe(0)
    }

    // Nothing waits, nothing is in flight, no key slot is held.
    expect(status.requests.in_flight).toBe(0)
    expect(status.queues.burst).toMatchObject({ waiting: 0, by_priority: { urgent: 0, high: 0, normal: 0, low: 0 }, bypassing: 0 })
    expect(status.pacers.find((p) => p.provider === 'p-burst')?.in_flight).toBe(0)

    // The simulator saw exactly the requests that were sent: every 200 once with 200, the two
    // scripted 429s, and possibly aborted ones that were already on their way — nothing refused
    // by the queue.
    await stack.sim.waitForRequests(results.filter((r) => r.status === 200).length + 2)
    const seen = upstreamRecords(stack, 'burst')
    const okIds = results.filter((r) => r.status === 200).map((r) => r.id).sort()
    const abortedIds = new Set(aborted.map((r) => r.id))
    const servedUpstream = seen.filter((s) => s.status === 200 && !s.aborted).map((s) => s.headers['x-request-id'] ?? '')
    expect(servedUpstream.filter((id) => !abortedIds.has(id)).sort()).toEqual(okIds)
    expect(seen.filter((s) => s.status === 429)).toHaveLength(2)
    for (const s of seen) {
      const r = byId.get(s.headers['x-request-id'] ?? '') as ChatResult
      expect(r.status === 200 || r.aborted || (s.status === 429 && r.code === 'rate_limit_exceeded'), `${r.id} ${r.status} seen upstream as ${s.status}`).toBe(true)
    }
    // The burst really exercised the queue: some served, some refused or timed out.
    expect(okIds.length).toBeGreaterThan(10)
    expect(results.some((r) => r.code === 'queue_full')).toBe(true)
    expect(results.some((r) => r.code === 'queue_timeout')).toBe(true)
    expect(byId.get('burst-00')).toMatchObject({ status: 429, code: 'rate_limit_exceeded' })
  })
})

/**
 * Resolves once nothing can move without time: every request the gateway holds is waiting in
 * the queue (none is upstream or on its way). Each look is a /status round trip, never a sleep.
 */
async function settled(stack: Stack): Promise<void> {
  for (let i = 0; i < 500; i++) {
    const status = await scheduleStatus(stack.gw.url)
    if (status.requests.in_flight === (status.queues.burst?.waiting ?? 0)) return
  }
  throw new Error('the gateway never settled')
}
