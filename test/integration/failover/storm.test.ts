import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectErrorBody, send, type Reply } from '../../support/data-plane.js'
import { startStack, type Stack } from '../../support/harness.js'
import {
  adminCaller, adminKey, BreakerWatch, breakerStateMetric, deployments, metricsText, metricValue, provider, secretOf, within,
} from '../../support/failover.js'

// Every key of a model answers 503. Retries must not multiply the storm: the retry budget keeps
// upstream attempts within 20 % of the requests (+ its minimum of 3). Clients get one of the two
// error shapes (502 upstream_error: the last key's answer; 503 no_capacity with Retry-After).
// Soft failures take out at most half of a model's keys (max_ejection_percent), never the last
// one: one key goes out, the other two stay in, demoted, and the model keeps answering with the
// upstream's own error instead of refusing everyone with 503 no_capacity.

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

  it(`${clients} concurrent requests: one key out, two demoted; at most one attempt per key for each request, and only 502/503 error shapes`, async () => {
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
    expect(byCode['502 upstream_error'] ?? 0, JSON.stringify(byCode)).toBeGreaterThan(0)

    // The access log says how many attempts each request made; the simulator records an attempt
    // when its side of the connection closes, which can trail the reply: wait for all of them.
    const ids = replies.map((_, i) => `storm-${String(i).padStart(3, '0')}`)
    const logs = await stack.logs.waitForAccessLog((all) => ids.every((id) => all.some((r) => r.requestId === id)))
    const mine = logs.filter((r) => ids.includes(String(r.requestId)))
    const attempts = mine.reduce((sum, r) => sum + Number(r.attempts), 0)
    await within(stack.sim.waitForRequests(attempts), 5_000, `the simulator to record ${attempts} attempts`)
    expect(stack.sim.requests()).toHaveLength(attempts)
    expect(attempts).toBeGreaterThanOrEqual(3)
    // Retries go to keys not tried yet: at most one attempt per key, 1 + retries.max in all.
    for (const r of mine) expect(Number(r.attempts)).toBeLessThanOrEqual(keys.length)
    for (const id of ids) {
      const tried = stack.sim.requests().filter((r) => r.headers['x-request-id'] === id).map((r) => r.key_id)
      expect(new Set(tried).size, id).toBe(tried.length)
    }
    expect(stack.sim.requests().every((r) => r.status === 503)).toBe(true)

    const text = await metricsText(stack.gw.url)
    const retries = metricValue(text, 'sluice_retries_total', { reason: 'retry' }) ?? 0
    expect(attempts).toBeLessThanOrEqual(clients + retries)

    // One key is out; the ejection cap keeps the other two in, demoted.
    const rows = await deployments(admin)
    console.log(JSON.stringify(rows.map((r) => r.health)))
    const out = rows.filter((row) => row.health.state === 'open')
    expect(out).toHaveLength(1)
    expect(breakerStateMetric(text, 'storm', out[0]!.key)).toBe('open')
    expect(out[0]!.health).toMatchObject({ last_failure_kind: 'http_5xx', times_opened: 1 })
    expect(out[0]!.health.reopens_at).not.toBeNull()
    for (const row of rows.filter((r) => r !== out[0])) {
      expect(row.health.state, row.key_id).toBe('closed')
      expect(row.health.last_failure_kind).toBe('http_5xx')
      expect(Date.parse(row.health.demoted_until ?? ''), row.key_id).toBeGreaterThan(Date.now())
    }
  })

  it('afterwards: the demoted keys still take every request upstream instead of refusing it at once; the key that is out sees none', async () => {
    const before = stack.sim.requests().length
    const replies = await Promise.all(Array.from({ length: 10 }, (_, i) => ask(`after-${i}`, 'late-caller')))
    for (const r of replies) {
      // 502: the last key's answer; 503 no_capacity once both demoted keys failed and only the one out is left untried.
      expect([502, 503], r.text).toContain(r.status)
      expectErrorBody(r.json(), r.status === 502 ? 'upstream_error' : 'no_capacity')
    }
    const logs = await stack.logs.waitForAccessLog((all) => replies.every((_, i) => all.some((r) => r.requestId === `after-${i}`)))
    const mine = logs.filter((r) => String(r.requestId).startsWith('after-'))
    for (const log of mine) expect(Number(log.attempts), String(log.requestId)).toBeGreaterThanOrEqual(1) // tried upstream, never refused at once
    const attempts = mine.reduce((sum, r) => sum + Number(r.attempts), 0)
    await within(stack.sim.waitForRequests(before + attempts), 5_000, `the simulator to record ${attempts} more attempts`)
    expect(stack.sim.requests().length - before).toBe(attempts)
    expect(attempts).toBeLessThanOrEqual(10 * 2) // the two keys in service, once each
    const out = (await deployments(admin)).find((row) => row.health.state === 'open')
    expect(stack.sim.requests().slice(before).some((r) => r.key_id === out?.key)).toBe(false)
  })
})
