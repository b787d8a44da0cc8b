import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Gateway } from '../../../src/main.js'
import { startSimulator, type Simulator } from '../../../src/simulator/index.js'
import { startInstances, type Instances } from '../../support/instances.js'
import { chat } from '../../support/schedule.js'

// Issue 15: "header-derived limits learned by one instance apply to all". A key with no
// configured RPM whose upstream states 1,200 a minute in its x-ratelimit headers: two instances
// on one Redis prefix pace it together at 0.97 × 1,200 (19.4 a second), not each at that rate.

describe('state: redis — a limit the upstream states in its headers paces every instance', () => {
  let sim: Simulator
  let instances: Instances
  let gws: Gateway[]

  beforeAll(async () => {
    sim = await startSimulator({ config: { latency: { ttft_ms: 20 }, keys: { 'sk-sim-stated': { id: 'stated', rpm: 1200, headers: 'openai' } } } })
    instances = await startInstances(2, 'stated', {
      providers: { sim: { type: 'openai', base_url: `${sim.url}/v1`, keys: [{ id: 'stated', key: 'sk-sim-stated', max_concurrent: 50 }] } },
      models: { m: { targets: [{ provider: 'sim', model: 'sim-model' }] } },
    })
    gws = instances.gateways
  }, 30_000)

  afterAll(async () => {
    await instances?.close()
    await sim?.close()
  })

  it('two instances together send at most 0.97 × the stated 1,200 a minute', async () => {
    // Each instance reads the headers of its first answer.
    for (const [i, gw] of gws.entries()) expect((await chat(gw.url, { model: 'm', id: `learn-${i}` })).status).toBe(200)
    const from = Date.now()
    let next = 0
    const total = 40
    const statuses: number[] = []
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let i = next++; i < total; i = next++) statuses.push((await chat((gws[i % 2] as Gateway).url, { model: 'm', id: `paced-${i}` })).status)
      }),
    )
    expect(statuses.filter((s) => s !== 200)).toEqual([])
    const starts = sim
      .requests()
      .filter((r) => r.key_id === 'stated' && r.started_at >= from)
      .map((r) => r.started_at)
      .sort((x, y) => x - y)
    expect(starts).toHaveLength(total)
    // One shared schedule at 19.4 a second: 39 gaps take about 2 s. Each instance on its own would send twice as fast.
    const perSecond = (starts.length - 1) / (((starts.at(-1) as number) - (starts[0] as number)) / 1000)
    expect(perSecond).toBeLessThanOrEqual(21)
  })
})
