import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { send } from '../../support/data-plane.js'
import { startStack, type Stack } from '../../support/harness.js'
import {
  adminCaller, adminKey, BreakerWatch, deploymentOf, DispatchWatch, isProbe, KeyFaults, metricsText, metricValue, provider, recordsOf, secretOf, waitForProbes,
  withProbes, type Dispatch,
} from '../../support/failover.js'
import type { RequestRecord } from '../../../src/simulator/index.js'

// Probes of a key that is out of service are spaced by the health check's interval: never two
// within one interval, never two at once (a probe slower than the interval delays the next), and
// they go through the key's pacer like any request, so a key allowed 60 requests a minute is
// probed at most once every ~1.03 s however short the interval.

const intervalMs = 100
const rpm = 60
/** The key's budget: one request a second. */
const budgetMs = 60_000 / rpm
/** The pacer's spacing at 97 % of the configured rpm. */
const pacedMs = 60_000 / (0.97 * rpm)
/**
 * Spacing is decided when a probe starts (a timer that never fires early), and measured where
 * undici takes the request a moment later; on a busy machine that moment varies by a few ms.
 */
const noiseMs = 5
/** The simulator stamps records with Date.now() (whole ms). */
const stampMs = 3
const stallMs = 250

describe('failover: probes respect their interval and the key\'s pacing', () => {
  let stack: Stack
  let watch: BreakerWatch
  let busyFaults: KeyFaults
  let dispatched: DispatchWatch
  const admin = adminCaller(() => stack.gw.url)

  beforeAll(async () => {
    stack = await startStack({
      sim: {
        keys: {
          [secretOf('fast')]: { id: 'fast', revoked: true },
          [secretOf('slow')]: { id: 'slow', revoked: true },
          [secretOf('busy')]: { id: 'busy' },
          [secretOf('spare')]: { id: 'spare' },
        },
      },
      gateway: (simUrl) => ({
        admin: { keys: [adminKey] },
        providers: {
          'p-fast': provider(simUrl, [{ id: 'fast' }], withProbes(`${intervalMs}ms`)),
          'p-slow': provider(simUrl, [{ id: 'slow', rpm }], withProbes(`${intervalMs}ms`)),
          // Out after one failure, and back only after 100 passes: it stays out while probed. A
          // spare key beside it, never tried (no retries), lets the ejection cap take it out.
          'p-busy': provider(simUrl, [{ id: 'busy' }, { id: 'spare' }], withProbes(`${intervalMs}ms`, { failure_threshold: 1, success_threshold: 100, open_for: '30s' })),
        },
        models: {
          ...Object.fromEntries(['fast', 'slow'].map((m) => [m, { targets: [{ provider: `p-${m}`, model: `up-${m}` }] }])),
          busy: { targets: [{ provider: 'p-busy', model: 'up-busy' }], strategy: 'round-robin' }, // the first request goes to busy
        },
        retries: { max: 0 },
      }),
    })
    watch = new BreakerWatch(stack.gw)
    dispatched = new DispatchWatch(stack.sim.url)
    // The busy key's first request fails; every later one (its probes) answers after a stall longer than the interval.
    busyFaults = new KeyFaults(stack.sim, secretOf('busy'), (n) => (n === 0 ? { kind: 'error', status: 500 } : { kind: 'stall_before_headers', ms: stallMs }))
  })
  afterAll(async () => {
    busyFaults?.close()
    dispatched?.close()
    watch?.close()
    await stack?.close()
  })

  /** Time between consecutive dispatches, as the gateway made them. */
  const gaps = (ds: readonly Dispatch[]): number[] => ds.slice(1).map((d, i) => d.at - (ds[i] as Dispatch).at)

  it('each key goes out on its first answer; then probes alone reach it, spaced as promised', async () => {
    for (const model of ['fast', 'slow', 'busy']) {
      const res = await send(stack.gw.url, '/v1/chat/completions', { body: { model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 }, headers: { 'x-request-id': `first-${model}` } })
      expect(res.status, res.text).toBe(502)
    }
    await watch.next('p-fast~fast', 'disabled')
    await watch.next('p-slow~slow', 'disabled')
    await watch.next('p-busy~busy', 'open')

    // The window: until the slow key has had 2 probes (~2 × 1.03 s after its request), and the fast one 15.
    const slowProbes = await waitForProbes(stack.sim, 'slow', 2, 6_000)
    const fastProbes = await waitForProbes(stack.sim, 'fast', 15, 6_000)
    const busyProbes = await waitForProbes(stack.sim, 'busy', 3, 6_000)

    // fast: never two within one interval, and on average about one per interval.
    expect(fastProbes.every((p) => p.status === 401)).toBe(true)
    const fastGaps = gaps(dispatched.probesOn(secretOf('fast')))
    expect(fastGaps.length).toBeGreaterThanOrEqual(14)
    expect(Math.min(...fastGaps)).toBeGreaterThanOrEqual(intervalMs - noiseMs)
    const sorted = [...fastGaps].sort((a, b) => a - b)
    expect(sorted[Math.floor(sorted.length / 2)]).toBeLessThan(intervalMs * 1.1 + 100)

    // slow: its one real request and its probes together stay within rpm 60 (paced at 97 %).
    const slowAll = recordsOf(stack.sim, 'slow')
    expect(slowAll[0]?.headers['x-request-id']).toBe('first-slow')
    expect(slowAll.slice(1).every(isProbe)).toBe(true)
    expect(slowProbes.length).toBeGreaterThanOrEqual(2)
    const slowDispatches = dispatched.onKey(secretOf('slow'))
    expect(slowDispatches[0]?.headers['x-request-id']).toBe('first-slow')
    expect(slowDispatches.length).toBeGreaterThanOrEqual(3)
    // The pacer spaces them ~1031 ms apart when it charges them; measured where undici takes
    // them, a little later, they stay well inside the key's budget of one a second.
    const slowGaps = gaps(slowDispatches)
    expect(Math.min(...slowGaps)).toBeGreaterThanOrEqual(budgetMs)
    expect(Math.min(...slowGaps)).toBeGreaterThan(pacedMs - 25)

    // busy: each probe takes longer than the interval; the next starts only after it ended.
    for (let i = 1; i < busyProbes.length; i++) {
      const prev = busyProbes[i - 1] as RequestRecord
      const next = busyProbes[i] as RequestRecord
      expect(next.started_at).toBeGreaterThanOrEqual(prev.ended_at - stampMs)
    }
    expect(Math.min(...gaps(dispatched.probesOn(secretOf('busy'))))).toBeGreaterThanOrEqual(stallMs - noiseMs)
    expect(stack.sim.stats().keys.busy?.max_concurrency_seen).toBe(1)

    // What the admin API and the metrics say matches what the simulator saw.
    const fastRow = await deploymentOf(admin, 'p-fast~fast')
    expect(fastRow.health).toMatchObject({ state: 'disabled', disabled_reason: 'auth' })
    expect(fastRow.probes?.sent).toBeGreaterThanOrEqual(fastProbes.length)
    expect(fastRow.probes?.last_status).toBe(401)
    const busyRow = await deploymentOf(admin, 'p-busy~busy')
    expect(busyRow.health.state).toBe('open')
    expect(busyRow.probes?.passed).toBeGreaterThanOrEqual(2)
    const text = await metricsText(stack.gw.url)
    expect(metricValue(text, 'sluice_probes_total', { provider: 'p-fast', key: 'fast', result: 'fail' })).toBeGreaterThanOrEqual(fastProbes.length - 1)
    expect(metricValue(text, 'sluice_probes_total', { provider: 'p-busy', key: 'busy', result: 'pass' })).toBeGreaterThanOrEqual(2)
  })
})
