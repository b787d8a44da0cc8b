import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectErrorBody } from '../../support/data-plane.js'
import { startStack, type Stack } from '../../support/harness.js'
import { chat, completionJson, pacerOf, scenarioConfig, scenarioSimConfig } from '../../support/schedule.js'

// Rate-limit headers let sluice slow down before the upstream ever says 429: the stated limit
// becomes the learned limit L̂ (paced at 0.97 × L̂), and a budget that is nearly spent pauses
// the key until the stated reset.

const scenarios = { learn: { sim: { rpm: 3, algorithm: 'token-bucket' as const, headers: 'openai' as const } } }

/**
 * A bare upstream for the one thing the simulator cannot show quickly: every real limiter's
 * reset is up to a minute away, so this one states its own headers. Answers each chat request
 * 200 with `headersFor(n)` (n counts from 0) and records when each arrived.
 */
interface HeaderUpstream {
  readonly url: string
  readonly arrivals: number[]
  close(): Promise<void>
}

async function startHeaderUpstream(headersFor: (n: number) => Record<string, string>): Promise<HeaderUpstream> {
  const arrivals: number[] = []
  const server: Server = createServer((req, res) => {
    const n = arrivals.length
    arrivals.push(performance.now())
    req.resume()
    req.on('end', () => {
      const body = JSON.stringify(completionJson('up-pause'))
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headersFor(n) })
      res.end(body)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    arrivals,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

describe('schedule: header-driven pacing', () => {
  let stack: Stack
  let upstream: HeaderUpstream
  beforeAll(async () => {
    upstream = await startHeaderUpstream((n) =>
      n === 0
        ? { 'x-ratelimit-limit-requests': '1000', 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '10s' }
        : { 'x-ratelimit-limit-requests': '1000', 'x-ratelimit-remaining-requests': '999', 'x-ratelimit-reset-requests': '60ms' },
    )
    stack = await startStack({
      sim: scenarioSimConfig(scenarios),
      gateway: (simUrl) => {
        const config = scenarioConfig(simUrl, scenarios)
        return {
          ...config,
          providers: { ...config.providers, 'p-pause': { type: 'openai', base_url: `${upstream.url}/v1`, keys: [{ id: 'k-pause', key: 'sk-pause-secret' }] } },
          models: { ...config.models, pause: { targets: [{ provider: 'p-pause', model: 'up-pause' }] } },
        }
      },
    })
  })
  afterAll(async () => {
    await stack.close()
    await upstream.close()
  })

  it('OpenAI headers teach the limit after one answer; a burst that would exceed it waits instead of drawing 429s', async () => {
    const first = await chat(stack.gw.url, { model: 'learn', id: 'learn-0' })
    expect(first.status).toBe(200)
    const pacer = await pacerOf(stack.gw.url, 'learn')
    expect(pacer.requests.learned_rpm).toBe(3)
    expect(pacer.requests.rate_rpm).toBeCloseTo(2.91, 2)

    // The simulator's bucket has 2 requests left: sent at once, 2 of these 4 would be refused.
    // Paced at 2.91/min (GCRA, burst 1), one goes now and the next not for 20 s.
    const burst = await Promise.all([1, 2, 3, 4].map((i) => chat(stack.gw.url, { model: 'learn', id: `learn-${i}`, maxWait: '0.3' })))
    expect(burst.map((r) => r.status).sort()).toEqual([200, 503, 503, 503])
    for (const res of burst.filter((r) => r.status === 503)) expectErrorBody(JSON.parse(res.text), 'queue_timeout')
    expect(stack.sim.stats().keys.learn).toMatchObject({ requests: 2, rate_limited: { rpm: 0, tpm: 0, concurrent: 0, quota: 0 } })
  })

  it('remaining 0 pauses the key (for the part of the reset that refills the budget) before any 429', async () => {
    const first = await chat(stack.gw.url, { model: 'pause', id: 'pause-0' })
    expect(first.status).toBe(200)
    const answeredAt = performance.now()
    const pacer = await pacerOf(stack.gw.url, 'pause')
    expect(pacer.state).toBe('paused')
    expect(pacer.requests.learned_rpm).toBe(1000)
    // How much of the 10 s reset it waits is the pacer's call; it must wait, and say how long.
    const pausedFor = pacer.requests.paused_for_ms
    expect(pausedFor).toBeGreaterThan(100)
    expect(pausedFor).toBeLessThanOrEqual(10_000)
    expect(pacer.upstream_429.rpm).toBe(0)

    const second = await chat(stack.gw.url, { model: 'pause', id: 'pause-1', maxWait: '30' })
    expect(second.status).toBe(200)
    expect(upstream.arrivals).toHaveLength(2)
    expect((upstream.arrivals[1] ?? 0) - answeredAt).toBeGreaterThanOrEqual(pausedFor - 5)
    // The next answer says plenty remains: no pause any more, only the 60 ms spacing of 0.97 × 1000/min.
    const third = await chat(stack.gw.url, { model: 'pause', id: 'pause-2' })
    expect(third.status).toBe(200)
    expect((upstream.arrivals[2] ?? 0) - (upstream.arrivals[1] ?? 0)).toBeLessThan(600)
  })
})
