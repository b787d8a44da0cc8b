import OpenAI from 'openai'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startStack, type Stack } from '../../support/harness.js'
import {
  adminCaller, adminKey, always, BreakerWatch, breakerStateMetric, deploymentOf, DispatchWatch, everyOther, healthy, inParallel, isProbe, KeyFaults, metricsText,
  metricValue, provider, recordsOf, secretOf, waitForProbes, withProbes,
} from '../../support/failover.js'

// Three keys behind one model: one good, one revoked (401), one that fails every other request
// with a 500. Clients never see an error: each failed attempt goes to another key. The revoked
// key is out after its first 401 and gets only probes from then on; the flaky key's breaker
// opens and, probed, closes; once the upstream heals, it serves again within one probe interval
// (plus its jitter).

const intervalMs = 300
const jitter = 0.1
/** Time for a probe's own exchange and the timers of a busy 2-core machine. */
const slackMs = 250
const messages = [{ role: 'user' as const, content: 'are you well?' }]

describe('failover: a revoked key and a flaky key behind one model', () => {
  let stack: Stack
  let client: OpenAI
  let watch: BreakerWatch
  let faults: KeyFaults
  let dispatched: DispatchWatch
  const admin = adminCaller(() => stack.gw.url)
  const failures: string[] = []
  const served: string[] = []
  let sent = 0

  beforeAll(async () => {
    stack = await startStack({
      sim: { keys: { [secretOf('good')]: { id: 'good' }, [secretOf('revoked')]: { id: 'revoked', revoked: true }, [secretOf('flaky')]: { id: 'flaky' } } },
      gateway: (simUrl) => ({
        admin: { keys: [adminKey] },
        providers: {
          // open_for is long: only a probe can bring a key back while the test runs, and one pass does.
          // max_ejection_percent 100: the revoked key and the flaky one may be out together.
          fo: provider(simUrl, [{ id: 'good' }, { id: 'revoked' }, { id: 'flaky' }], withProbes(`${intervalMs}ms`, { success_threshold: 1, open_for: '30s', max_open_for: '60s', max_ejection_percent: 100 })),
        },
        // round-robin: good, revoked, flaky, … — the revoked key gets the second request.
        models: { heal: { targets: [{ provider: 'fo', model: 'up-heal' }], strategy: 'round-robin' } },
      }),
    })
    client = new OpenAI({ baseURL: stack.baseURL, apiKey: 'client-key', maxRetries: 0 })
    watch = new BreakerWatch(stack.gw)
    faults = new KeyFaults(stack.sim, secretOf('flaky'), everyOther(500))
    dispatched = new DispatchWatch(stack.sim.url)
  })
  afterAll(async () => {
    faults?.close()
    dispatched?.close()
    watch?.close()
    await stack?.close()
  })

  /** One request through the openai client; an error is kept for the final check, never thrown. */
  async function ask(): Promise<string | null> {
    const id = `heal-${String(sent++).padStart(3, '0')}`
    try {
      const { response } = await client.chat.completions.create({ model: 'heal', messages, max_tokens: 4 }, { headers: { 'x-request-id': id } }).withResponse()
      const deployment = response.headers.get('x-sluice-deployment') ?? ''
      served.push(deployment)
      return deployment
    } catch (err) {
      failures.push(`${id}: ${(err as Error).message}`)
      return null
    }
  }

  it('60 requests while the flaky key fails half the time: no client error; the flaky key opens and, probed, closes', async () => {
    await inParallel(60, 3, () => ask())
    expect(failures).toEqual([])

    const opened = await watch.next('fo~flaky', 'open')
    const closed = await watch.next('fo~flaky', 'closed', watch.events.indexOf(opened), 10 * intervalMs)
    expect(closed.at).toBeGreaterThan(opened.at)
    // It may have opened more than once: the next step starts from a closed key.
    await watch.settle('fo~flaky', 'closed', 10 * intervalMs)
    // A probe closed it (open_for is far off): the key is only ever probed while it is out.
    expect((await deploymentOf(admin, 'fo~flaky')).probes?.passed).toBeGreaterThanOrEqual(1)
    expect((await waitForProbes(stack.sim, 'flaky', 1)).length).toBeGreaterThanOrEqual(1)

    // The revoked key went out at its first 401.
    const revoked = await watch.next('fo~revoked', 'disabled')
    expect(watch.statesOf('fo~revoked')).toEqual(['disabled'])
    const row = await deploymentOf(admin, 'fo~revoked')
    expect(row.health).toMatchObject({ state: 'disabled', disabled_reason: 'auth' })
    expect(revoked.at).toBeGreaterThan(0)
    expect(breakerStateMetric(await metricsText(stack.gw.url), 'fo', 'revoked')).toBe('disabled')
    expect(served.filter((d) => d.includes('/revoked/'))).toEqual([])
  })

  it('fully broken, the flaky key opens and stays out: probes fail, admin and metrics say open, traffic goes elsewhere', async () => {
    faults.plan = always(500)
    const mark = watch.mark
    // Round-robin over good and flaky: a few requests give the flaky key its 5 failures in a row.
    for (let i = 0; i < 20 && !watch.events.slice(mark).some((e) => e.id === 'fo~flaky' && e.state === 'open'); i++) await ask()
    expect(failures).toEqual([])
    await watch.next('fo~flaky', 'open', mark, 1_000)

    const probesBefore = recordsOf(stack.sim, 'flaky').filter(isProbe).length
    const failedProbe = (await waitForProbes(stack.sim, 'flaky', probesBefore + 1, 5 * intervalMs)).at(-1)
    expect(failedProbe?.status).toBe(500)
    // Still out: the failed probe did not close it, and its open period is far from over.
    const row = await deploymentOf(admin, 'fo~flaky')
    expect(row.health.state).toBe('open')
    expect(row.health.last_failure_kind).toBe('http_5xx')
    expect(row.health.times_opened).toBeGreaterThanOrEqual(1)
    expect(Date.parse(row.health.reopens_at ?? '')).toBeGreaterThan(Date.now() + 20_000)
    expect(row.probes?.failed).toBeGreaterThanOrEqual(1)
    const text = await metricsText(stack.gw.url)
    expect(breakerStateMetric(text, 'fo', 'flaky')).toBe('open')
    expect(metricValue(text, 'sluice_probes_total', { provider: 'fo', key: 'flaky', result: 'fail' })).toBeGreaterThanOrEqual(1)

    // While it is out, clients are served by the good key alone, at the first attempt.
    const sentBefore = dispatched.onKey(secretOf('flaky')).filter((d) => d.headers['x-request-id'] !== undefined).length
    const deployments = await inParallel(10, 2, () => ask())
    expect(failures).toEqual([])
    expect(new Set(deployments)).toEqual(new Set(['fo/good/up-heal']))
    expect(dispatched.onKey(secretOf('flaky')).filter((d) => d.headers['x-request-id'] !== undefined)).toHaveLength(sentBefore)
  })

  it('healed, the flaky key is back within one probe interval plus jitter, and serves again', async () => {
    const mark = watch.mark
    faults.plan = healthy
    const healedAt = performance.now()
    const closed = await watch.next('fo~flaky', 'closed', mark, 5 * intervalMs)
    expect(closed.at - healedAt).toBeLessThanOrEqual(intervalMs * (1 + jitter) + slackMs)

    const row = await deploymentOf(admin, 'fo~flaky')
    expect(row.health).toMatchObject({ state: 'closed', consecutive_failures: 0, reopens_at: null })
    expect(row.probes?.passed).toBeGreaterThanOrEqual(1)
    expect(row.probes?.last_status).toBe(200)
    const text = await metricsText(stack.gw.url)
    expect(breakerStateMetric(text, 'fo', 'flaky')).toBe('closed')
    expect(metricValue(text, 'sluice_probes_total', { provider: 'fo', key: 'flaky', result: 'pass' })).toBeGreaterThanOrEqual(1)

    const deployments = await inParallel(6, 1, () => ask())
    expect(failures).toEqual([])
    expect(deployments).toContain('fo/flaky/up-heal')
  })

  it('over the whole run: no client error, and the revoked key saw one real request — the rest were probes', async () => {
    expect(sent).toBeGreaterThanOrEqual(60)
    expect(failures).toEqual([])
    const records = recordsOf(stack.sim, 'revoked')
    const real = records.filter((r) => !isProbe(r))
    expect(real.map((r) => r.status)).toEqual([401])
    const probes = records.filter(isProbe)
    expect(probes.length).toBeGreaterThanOrEqual(1)
    expect(probes.every((p) => p.status === 401 && p.started_at > (real[0]?.started_at ?? Infinity))).toBe(true)
    const text = await metricsText(stack.gw.url)
    // Counted by the gateway as each ends, recorded by the simulator as its side closes: one may be between the two.
    const failed = metricValue(text, 'sluice_probes_total', { provider: 'fo', key: 'revoked', result: 'fail' }) ?? 0
    expect(Math.abs(failed - probes.length)).toBeLessThanOrEqual(1)
    expect(metricValue(text, 'sluice_probes_total', { provider: 'fo', key: 'good', result: 'pass' }) ?? 0).toBe(0)
    // The good key was never out, so never probed.
    expect(recordsOf(stack.sim, 'good').filter(isProbe)).toEqual([])
    expect(watch.statesOf('fo~good')).toEqual([])
  })
})
