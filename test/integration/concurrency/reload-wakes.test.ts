import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startGateway, type Gateway } from '../../../src/main.js'
import { startSimulator, type Simulator } from '../../../src/simulator/index.js'
import { createLogger } from '../../../src/telemetry/logger.js'
import { Arrivals } from '../../support/concurrency.js'
import { LogCapture } from '../../support/harness.js'

// Raising a key's max_concurrent in the file lets the requests waiting for its permit go at the
// reload, not when the request holding the permit ends.

const config = (simUrl: string, maxConcurrent: number) => `providers:
  sim: { type: openai, base_url: "${simUrl}/v1", keys: [{ id: k1, key: sk-sim-reload-wake, max_concurrent: ${maxConcurrent} }] }
models:
  alpha: { targets: [{ provider: sim, model: sim-model }] }
`

function chat(url: string, id: string): Promise<number> {
  return request(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-request-id': id },
    body: JSON.stringify({ model: 'alpha', messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 }),
  }).then(async (res) => {
    await res.body.dump()
    return res.statusCode
  })
}

async function waiting(url: string): Promise<number> {
  const res = await request(`${url}/status`)
  const status = (await res.body.json()) as { queues?: Record<string, { waiting: number }> }
  return status.queues?.alpha?.waiting ?? 0
}

describe('concurrency: a reload that raises a limit wakes the requests waiting for it', () => {
  let sim: Simulator
  let gw: Gateway
  let file: string
  let upstream: Arrivals
  let gateway: Arrivals

  beforeAll(async () => {
    sim = await startSimulator({ config: { latency: { ttft_ms: 5 } } })
    file = join(mkdtempSync(join(tmpdir(), 'sluice-reload-wake-')), 'sluice.yaml')
    writeFileSync(file, config(sim.url, 1))
    gw = await startGateway({ config: { file }, logger: createLogger({ destination: new LogCapture() }), port: 0, processMetrics: false, database: 'sqlite::memory:', watch: false })
    upstream = new Arrivals(sim.port)
    gateway = new Arrivals(gw.port)
  })
  afterAll(async () => {
    upstream?.close()
    gateway?.close()
    await gw?.shutdown()
    await sim?.close()
  })

  it('the waiting request reaches the upstream while the first still holds its permit', async () => {
    // The first request holds the key's only permit for 3 s.
    sim.script([{ kind: 'stall_before_headers', ms: 3_000 }])
    const first = chat(gw.url, 'first')
    await upstream.arrived('first')
    const second = chat(gw.url, 'second')
    await gateway.arrived('second')
    // Bounded: each turn is one /status round trip, not a timer.
    for (let i = 0; i < 50 && (await waiting(gw.url)) === 0; i++);
    expect(await waiting(gw.url)).toBe(1)

    writeFileSync(file, config(sim.url, 5))
    expect(gw.reload().ok).toBe(true)
    await upstream.arrived('second')
    // The first is still stalled upstream: the reload, not its end, let the second go.
    expect(sim.stats().totals.in_flight).toBe(2)
    expect(await Promise.all([first, second])).toEqual([200, 200])
  })
})
