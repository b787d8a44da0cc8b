import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startSimulator, type Simulator } from '../../../src/simulator/index.js'
import type { SluiceProcess } from '../../support/child.js'
import { redisUrl, startCluster, type Cluster } from '../../support/cluster.js'
import { send } from '../../support/data-plane.js'
import { isProbe, probeModel, waitForProbes, within } from '../../support/failover.js'

// Three sluice processes on one Redis: a key that is out on all of them is probed by one of
// them only (the provider's probe leader), once per interval; when the leader's probes restore
// it, it is back on every instance; and when the leader dies, another takes over.

const intervalMs = 1_000
const jitter = 0.1

const yaml = (simUrl: string) => (database: string, prefix: string) => `
database: ${database}
state: { url: "${redisUrl}", key_prefix: "${prefix}" }
log: { level: info }
providers:
  down:
    type: openai
    base_url: "${simUrl}/v1"
    keys: [{ id: dead, key: sk-sim-dead }]
    health_check: { model: ${probeModel}, interval: ${intervalMs}ms, timeout: 2s }
    failover: { enabled: true, success_threshold: 1, open_for: 60s, max_ejection_percent: 100 }
models:
  m: { targets: [{ provider: down, model: sim-model }] }
`

const leaderLine = (p: SluiceProcess, leader: boolean) => p.waitFor((l) => l.provider === 'down' && l.leader === leader && String(l.msg).startsWith('probe leader'))

describe('three instances on Redis: one probe leader per provider', () => {
  let sim: Simulator
  let cluster: Cluster
  let leader: number
  beforeAll(async () => {
    sim = await startSimulator({ config: { latency: { ttft_ms: 10 }, keys: { 'sk-sim-dead': { id: 'dead', revoked: true } } } })
    cluster = await startCluster(3, yaml(sim.url), 'probes')
    // Each instance has heard whether it leads; exactly one does.
    const said = await within(Promise.all(cluster.processes.map((p) => Promise.race([leaderLine(p, true).then(() => true), leaderLine(p, false).then(() => false)]))), 15_000, 'every instance to know who leads')
    expect(said.filter(Boolean)).toHaveLength(1)
    leader = said.indexOf(true)
  }, 60_000)
  afterAll(async () => {
    await cluster?.close()
    await sim?.close()
  })

  it('a key out on all three instances gets one probe per interval, not three', async () => {
    // A 401 on each instance takes the key out there.
    for (const [i, url] of cluster.urls.entries()) {
      const r = await send(url, '/v1/chat/completions', { headers: { 'x-request-id': `out-${i}` }, body: { model: 'm', messages: [{ role: 'user', content: 'hi' }], max_tokens: 1 } })
      expect(r.status).toBeGreaterThanOrEqual(400)
    }
    const before = sim.requests().filter((r) => r.key_id === 'dead' && isProbe(r)).length
    const probes = (await waitForProbes(sim, 'dead', before + 6, 12 * intervalMs)).slice(before)
    const starts = probes.map((r) => r.started_at)
    const gaps = starts.slice(1).map((t, i) => t - (starts[i] as number))
    // Three instances each probing would put probes a third of an interval apart; one leader's
    // are an interval apart, less what a new connection's setup moved its first one by.
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(0.8 * intervalMs)
    for (const gap of gaps) expect(gap).toBeLessThanOrEqual(intervalMs * (1 + jitter) + 500)
  }, 30_000)

  it("healed upstream: the leader's probe restores the key on every instance within an interval or two", async () => {
    const healedAt = Date.now()
    const back = cluster.processes.map((p) => p.waitFor((l) => l.msg === 'key back in service' && l.key === 'down~dead' && Number(l.time) >= healedAt))
    sim.configure({ keys: { 'sk-sim-dead': { id: 'dead', revoked: false } } })
    const before = sim.requests().filter((r) => r.key_id === 'dead' && isProbe(r)).length
    await waitForProbes(sim, 'dead', before + 1, 3 * intervalMs)
    // The leader's probe passed; the others follow at their next probe time, at most one
    // interval plus jitter after their last. Each says when the key is back.
    await within(Promise.all(back), 3 * intervalMs, 'the key back in service on every instance')
    for (const [i, url] of cluster.urls.entries()) {
      const r = await send(url, '/v1/chat/completions', { headers: { 'x-request-id': `back-${i}` }, body: { model: 'm', messages: [{ role: 'user', content: 'hi' }], max_tokens: 1 } })
      expect({ instance: i, status: r.status }).toEqual({ instance: i, status: 200 })
    }
  }, 30_000)

  it('kill -9 of the leader: another instance takes over within 20 s (a 15 s lease, renewed every 5 s)', async () => {
    const dead = cluster.processes[leader] as SluiceProcess
    const others = cluster.processes.filter((_, i) => i !== leader)
    const killedAt = Date.now()
    dead.kill('SIGKILL')
    await within(Promise.race(others.map((p) => leaderLine(p, true))), 25_000, 'a new probe leader')
    expect(Date.now() - killedAt).toBeLessThanOrEqual(21_000)
  }, 40_000)
})
