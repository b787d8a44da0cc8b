import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { send } from '../../support/data-plane.js'
import { startStack, type Stack } from '../../support/harness.js'
import {
  chat, expectQueued, holdKey, keyValue, RequestWatch, rpm429Body, scenarioConfig, scenarioSimConfig, scheduleStatus, upstreamHas,
} from '../../support/schedule.js'

// Queues and pacers are visible: /metrics names them sluice_queue_* and sluice_pacer_* with
// model, priority, provider and key ids as labels; /status has `queues` and `pacers` with
// state, rate and learned limit. Key values never appear in either.

const scenarios = {
  // The simulator states a 6000/min limit in OpenAI headers: sluice learns it, and paces at 0.97 × min(600, 6000).
  obs: { rpm: 600, tpm: 100_000, sim: { rpm: 6000, headers: 'openai' as const } },
}

/** The value of one exact series line in Prometheus text, or undefined. */
function sample(text: string, series: string): string | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return line?.slice(series.length + 1)
}

describe('schedule: metrics and /status', () => {
  let stack: Stack
  beforeAll(async () => {
    stack = await startStack({ sim: scenarioSimConfig(scenarios), gateway: (simUrl) => scenarioConfig(simUrl, scenarios) })
  })
  afterAll(() => stack.close())

  it('queue depth, wait, rejections, pacer rate, state and 429s by type, in /metrics and /status', async () => {
    // 1. A rate 429 on the first request (retried, 200): the pacer retreats to half of 0.97 × 600.
    stack.sim.script([{ kind: 'error', status: 429, body: rpm429Body, headers: { 'retry-after-ms': '60' }, match: { model: 'up-obs' } }])
    expect((await chat(stack.gw.url, { model: 'obs', id: 'obs-429' })).status).toBe(200)

    // 2. A backlog: one normal request waits its turn, one low request gives up after 0.2 s.
    const gate = await holdKey(stack, 'obs')
    const watch = new RequestWatch(stack.gw.port, 'end')
    const served = chat(stack.gw.url, { model: 'obs', id: 'obs-served' })
    const timedOut = chat(stack.gw.url, { model: 'obs', id: 'obs-timeout', priority: 'low', maxWait: '0.2', consumer: 'other' })
    await expectQueued(stack, watch, 2, 'obs', 2)
    watch.close()
    let metrics = (await send(stack.gw.url, '/metrics')).text
    expect(sample(metrics, 'sluice_queue_depth{model="obs",priority="normal"}')).toBe('1')
    expect(sample(metrics, 'sluice_queue_depth{model="obs",priority="low"}')).toBe('1')
    expect(sample(metrics, 'sluice_queue_depth{model="obs",priority="urgent"}')).toBe('0')
    let status = await scheduleStatus(stack.gw.url)
    expect(status.queues.obs).toEqual({ waiting: 2, by_priority: { urgent: 0, high: 0, normal: 1, low: 1 }, bypassing: 0 })

    expect((await timedOut).status).toBe(503)
    expect((await served).status).toBe(200)
    await gate.result
    await upstreamHas(stack, ['obs-429', 'gate-obs', 'obs-served'])

    metrics = (await send(stack.gw.url, '/metrics')).text
    for (const p of ['urgent', 'high', 'normal', 'low']) expect(sample(metrics, `sluice_queue_depth{model="obs",priority="${p}"}`)).toBe('0')
    expect(Number(sample(metrics, 'sluice_queue_wait_seconds_count{model="obs",priority="normal"}'))).toBeGreaterThanOrEqual(2)
    expect(Number(sample(metrics, 'sluice_queue_wait_seconds_sum{model="obs",priority="normal"}'))).toBeGreaterThan(0.3)
    expect(sample(metrics, 'sluice_queue_wait_seconds_bucket{model="obs",priority="normal",le="+Inf"}')).toBeDefined()
    expect(sample(metrics, 'sluice_queue_rejected_total{model="obs",priority="low",reason="timeout"}')).toBe('1')
    expect(sample(metrics, 'sluice_upstream_429_total{provider="p-obs",key="k-obs",type="rpm"}')).toBe('1')
    const pacerLabels = 'provider="p-obs",key="k-obs",model=""'
    expect(Number(sample(metrics, `sluice_pacer_rate_rpm{${pacerLabels}}`))).toBeCloseTo(291, 0)
    expect(Number(sample(metrics, `sluice_pacer_limit_rpm{${pacerLabels}}`))).toBe(600)
    expect(sample(metrics, `sluice_pacer_rate_tpm{${pacerLabels}}`)).toBeDefined()
    const states = ['steady', 'paused', 'retreating', 'recovering'].map((s) => [s, sample(metrics, `sluice_pacer_state{${pacerLabels},state="${s}"}`)])
    // Within 10 s of the 429, and no longer paused.
    expect(Object.fromEntries(states)).toEqual({ steady: '0', paused: '0', retreating: '1', recovering: '0' })

    status = await scheduleStatus(stack.gw.url)
    expect(status.queues.obs).toEqual({ waiting: 0, by_priority: { urgent: 0, high: 0, normal: 0, low: 0 }, bypassing: 0 })
    const pacer = status.pacers.find((p) => p.id === 'p-obs/k-obs')
    expect(pacer).toMatchObject({
      provider: 'p-obs',
      key: 'k-obs',
      model: null,
      state: 'retreating',
      in_flight: 0,
      requests: { configured_rpm: 600, learned_rpm: 6000, paused_for_ms: 0 },
      tokens: { configured_tpm: 100_000 },
      out_of_service_for_ms: 0,
      last_429_type: 'rpm',
    })
    expect(pacer?.requests.rate_rpm).toBeCloseTo(291, 0)
    expect(pacer?.upstream_429).toEqual({ rpm: 1, tpm: 0, concurrent: 0, quota: 0, overload: 0, unknown: 0 })

    // Ids, never secrets.
    for (const text of [metrics, status.raw]) {
      expect(text).not.toContain(keyValue('obs'))
      expect(text).not.toContain('sk-sched')
    }
  })
})
