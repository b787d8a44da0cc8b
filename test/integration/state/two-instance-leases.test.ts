import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Gateway } from '../../../src/main.js'
import { startSimulator, type Simulator } from '../../../src/simulator/index.js'
import { maxOverlap } from '../../support/cluster.js'
import { within } from '../../support/failover.js'
import { startInstances, type Instances } from '../../support/instances.js'
import { chat } from '../../support/schedule.js'

// Two in-process instances on one Redis prefix, one key with max_concurrent 2: requests from
// both never run more than 2 at once upstream, clients that leave while waiting or running free
// what they held, and nothing is left behind: afterwards a burst runs 2 at once straight away
// (a leaked lease would hold its slot for 30 s).

const ttftMs = 250

describe('state: redis — two instances, one key, permits as leases', () => {
  let sim: Simulator
  let instances: Instances
  let gws: Gateway[]
  beforeAll(async () => {
    sim = await startSimulator({ config: { latency: { ttft_ms: ttftMs }, keys: { 'sk-sim-two': { id: 'two', headers: 'none' } } } })
    instances = await startInstances(2, 'two', {
      providers: { sim: { type: 'openai', base_url: `${sim.url}/v1`, keys: [{ id: 'two', key: 'sk-sim-two', max_concurrent: 2 }] } },
      models: { m: { targets: [{ provider: 'sim', model: 'sim-model' }] } },
    })
    gws = instances.gateways
  }, 30_000)
  afterAll(async () => {
    await instances?.close()
    await sim?.close()
  })

  it('never more than 2 upstream from both; clients that leave free their slots; nothing leaks', async () => {
    const [a, b] = gws as [Gateway, Gateway]
    const leaving = new AbortController()
    const results = Promise.all([
      ...[0, 1, 2, 3].map((i) => chat(a.url, { model: 'm', id: `a-${i}` })),
      ...[0, 1, 2, 3].map((i) => chat(b.url, { model: 'm', id: `b-${i}`, signal: i < 2 ? leaving.signal : undefined })),
    ])
    setTimeout(() => leaving.abort(), ttftMs / 2)
    const done = await within(results, 15_000, 'the first burst')
    expect(done.filter((r) => r.aborted).map((r) => r.id)).toEqual(['b-0', 'b-1'])
    expect(done.filter((r) => !r.aborted).map((r) => r.status)).toEqual(Array(6).fill(200))
    expect(maxOverlap(sim.requests())).toBeLessThanOrEqual(2)

    const from = Date.now()
    const again = await within(Promise.all([chat(a.url, { model: 'm', id: 'a-9' }), chat(b.url, { model: 'm', id: 'b-9' })]), 5_000, 'a burst after it')
    expect(again.map((r) => r.status)).toEqual([200, 200])
    expect(maxOverlap(sim.requests().filter((r) => r.started_at >= from))).toBe(2)
  }, 30_000)
})
