import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { send } from '../../support/data-plane.js'
import { startStack, type Stack } from '../../support/harness.js'
import {
  adminCaller, adminKey, BreakerWatch, breakerStateMetric, deployments, inParallel, metricsText, metricValue, provider, secretOf, within,
} from '../../support/failover.js'

// An upstream 400 is the client's mistake, not the key's: however many there are, no breaker
// opens, no request is sent again, and the client hears the upstream's answer after 1 attempt.

const total = 1000
const badRequest = {
  error: { message: "Invalid value for 'temperature': must be between 0 and 2.", type: 'invalid_request_error', param: 'temperature', code: 'invalid_value' },
}

describe('failover: client errors are not failures', () => {
  let stack: Stack
  let watch: BreakerWatch
  const admin = adminCaller(() => stack.gw.url)

  beforeAll(async () => {
    stack = await startStack({
      sim: { keys: { [secretOf('a')]: { id: 'a' }, [secretOf('b')]: { id: 'b' } } },
      gateway: (simUrl) => ({
        admin: { keys: [adminKey] },
        // Two keys, so a retry would have somewhere to go; a breaker that trips on 1 failure.
        providers: { four: provider(simUrl, [{ id: 'a', max_concurrent: 50 }, { id: 'b', max_concurrent: 50 }], { failover: { failure_threshold: 1, min_requests: 1 } }) },
        models: { fours: { targets: [{ provider: 'four', model: 'up-fours' }] } },
      }),
    })
    watch = new BreakerWatch(stack.gw)
  })
  afterAll(async () => {
    watch?.close()
    await stack?.close()
  })

  it(`${total} upstream 400s: each answered 400 after 1 attempt, the simulator saw exactly ${total}, no breaker moved`, async () => {
    stack.sim.script(Array.from({ length: total }, () => ({ kind: 'error' as const, status: 400, body: badRequest, match: { model: 'up-fours' } })))
    const replies = await inParallel(total, 20, (i) =>
      send(stack.gw.url, '/v1/chat/completions', {
        body: { model: 'fours', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2, temperature: 7 },
        headers: { 'x-request-id': `bad-${String(i).padStart(4, '0')}` },
      }),
    )
    const statuses = new Map<number, number>()
    for (const r of replies) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1)
    expect(Object.fromEntries(statuses)).toEqual({ 400: total })
    expect(new Set(replies.map((r) => r.headers['x-sluice-attempts']))).toEqual(new Set(['1']))
    expect(replies.every((r) => (r.json<{ error: { code: string } }>().error.code === 'invalid_value'))).toBe(true)

    await within(stack.sim.waitForRequests(total), 5_000, 'the simulator to finish every request')
    const records = stack.sim.requests()
    expect(records).toHaveLength(total)
    expect(records.every((r) => r.status === 400)).toBe(true)
    // One attempt per request id: nothing was sent twice.
    expect(new Set(records.map((r) => r.headers['x-request-id'])).size).toBe(total)
    expect(stack.sim.stats().totals.requests).toBe(total)

    expect(watch.events).toEqual([])
    for (const row of await deployments(admin)) {
      expect(row.health, row.key_id).toMatchObject({ state: 'closed', consecutive_failures: 0, last_failure_kind: null, times_opened: 0 })
    }
    const text = await metricsText(stack.gw.url)
    expect(breakerStateMetric(text, 'four', 'a')).toBe('closed')
    expect(breakerStateMetric(text, 'four', 'b')).toBe('closed')
    for (const reason of ['retry', 'fallback', 'budget_exhausted']) expect(metricValue(text, 'sluice_retries_total', { reason }) ?? 0, reason).toBe(0)
  })
})
