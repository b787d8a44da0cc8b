import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectErrorBody, send, type Reply } from '../../support/data-plane.js'
import { startStack, type Stack } from '../../support/harness.js'
import {
  adminCaller, adminKey, BreakerWatch, breakerStateMetric, deployments, metricsText, metricValue, provider, secretOf, within,
} from '../../support/failover.js'

// Every key of a model answers 503. Retries must not multiply the storm: the retry budget keeps
// upstream attempts within 20 % of the requests (+ its minimum of 3). Clients get one of the two
// error shapes (502 upstream_error: the last key's answer; 503 no_capacity with Retry-After), and
// once every breaker is open, requests are answered at once without reaching the upstream.

const clients = 100
const keys = ['a', 'b', 'c']

describe('failover: a 503 storm on every key', () => {
  let stack: Stack
  let watch: BreakerWatch
  const admin = adminCaller(() => stack.gw.url)

  beforeAll(async () => {
    stack = await startStack({
      sim: {
        keys: Object.fromEntries(keys.map((k) => [secretOf(k), { id: k }])),
        faults: { error_rate: 1, error_status: 503 },
        seed: 7,
      },
      gateway: (simUrl) => ({
        admin: { keys: [adminKey] },
        providers: { storm: provider(simUrl, keys.map((id) => ({ id }))) },
        models: { storm: { targets: [{ provider: 'storm', model: 'up-storm' }] } },
      }),
    })
    watch = new BreakerWatch(stack.gw)
  })
  afterAll(async () => {
    watch?.close()
    await stack?.close()
  })

  const ask = (id: string, consumer: string): Promise<Reply> =>
    send(stack.gw.url, '/v1/chat/completions', {
      body: { model: 'storm', messages: [{ role: 'user', content: 'anyone there?' }], max_tokens: 4 },
      // Several callers, so no one caller's queue share (50) is what refuses them.
      headers: { 'x-request-id': id, authorization: `Bearer ${consumer}` },
    })

  it(`${clients} concurrent requests: at most 1.2 × ${clients} + 3 upstream attempts, and only 502/503 error shapes`, async () => {
    const replies = await Promise.all(Array.from({ length: clients }, (_, i) => ask(`storm-${String(i).padStart(3, '0')}`, `caller-${i % 10}`)))
    const byCode: Record<string, number> = {}
    for (const r of replies) {
      expect([502, 503], r.text).toContain(r.status)
      const code = r.status === 502 ? 'upstream_error' : 'no_capacity'
      expectErrorBody(r.json(), code)
      byCode[`${r.status} ${code}`] = (byCode[`${r.status} ${code}`] ?? 0) + 1
      if (r.status === 503) {
        const retryAfter = Number(r.headers['retry-after'])
        expect(Number.isInteger(retryAfter) && retryAfter >= 1, `Retry-After ${r.headers['retry-after']}`).toBe(true)
        expect(retryAfter).toBeLessThanOrEqual(34) // the breakers reopen in open_for (30 s) ± 10 %
      }
    }
    expect(byCode['503 no_capacity'] ?? 0, JSON.stringify(byCode)).toBeGreaterThan(0)

    // The access log says how many attempts each request made; the simulator records an attempt
    // when its side of the connection closes, which can trail the reply: wait for all of them.
    const ids = replies.map((_, i) => `storm-${String(i).padStart(3, '0')}`)
    const logs = await stack.logs.waitForAccessLog((all) => ids.every((id) => all.some((r) => r.requestId === id)))
    const attempts = logs.filter((r) => ids.includes(String(r.requestId))).reduce((sum, r) => sum + Number(r.attempts), 0)
    await within(stack.sim.waitForRequests(attempts), 5_000, `the simulator to record ${attempts} attempts`)
    expect(stack.sim.requests()).toHaveLength(attempts)
    expect(attempts).toBeGreaterThanOrEqual(3)
    expect(attempts).toBeLessThanOrEqual(1.2 * clients + 3)
    expect(stack.sim.requests().every((r) => r.status === 503)).toBe(true)

    const text = await metricsText(stack.gw.url)
    const retries = metricValue(text, 'sluice_retries_total', { reason: 'retry' }) ?? 0
    expect(attempts).toBeLessThanOrEqual(clients + retries)
    expect(retries).toBeLessThanOrEqual(0.2 * clients + 3)

    // Every key is out now.
    for (const k of keys) await watch.next(`storm~${k}`, 'open')
    for (const k of keys) expect(breakerStateMetric(text, 'storm', k), k).toBe('open')
    for (const row of await deployments(admin)) {
      expect(row.health.state, row.key_id).toBe('open')
      expect(row.health.last_failure_kind).toBe('http_5xx')
      expect(row.health.times_opened).toBe(1)
      expect(row.health.reopens_at).not.toBeNull()
    }
  })

  it('afterwards: 503 no_capacity with Retry-After at once, and nothing reaches the simulator', async () => {
    const before = stack.sim.requests().length
    // Retry-After: the seconds until the first breaker reopens.
    const reopens = Math.min(...(await deployments(admin)).map((d) => Date.parse(d.health.reopens_at ?? '')))
    const expected = Math.ceil((reopens - Date.now()) / 1000)
    expect(expected).toBeGreaterThanOrEqual(25)
    const replies = await Promise.all(Array.from({ length: 10 }, (_, i) => ask(`after-${i}`, 'late-caller')))
    for (const r of replies) {
      expect(r.status).toBe(503)
      expectErrorBody(r.json(), 'no_capacity')
      expect(r.headers['x-sluice-attempts']).toBeUndefined()
      const retryAfter = Number(r.headers['retry-after'])
      expect(retryAfter).toBeGreaterThanOrEqual(expected - 1)
      expect(retryAfter).toBeLessThanOrEqual(expected)
    }
    expect(stack.sim.requests()).toHaveLength(before)
    expect(stack.sim.stats().totals.requests).toBe(before)
    const logs = await stack.logs.waitForAccessLog((all) => replies.every((_, i) => all.some((r) => r.requestId === `after-${i}`)))
    for (const log of logs.filter((r) => String(r.requestId).startsWith('after-'))) expect(log).toMatchObject({ status: 503, error: 'no_capacity', attempts: 0 })
  })
})
