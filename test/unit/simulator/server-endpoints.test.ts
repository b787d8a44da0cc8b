import { request } from 'undici'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { parseVllmMetrics } from '../../../src/health/index.js'
import type { Simulator } from '../../../src/simulator/index.js'
import { bearer, chatBody, send, start } from './helpers.js'

let sim: Simulator
beforeAll(async () => { sim = await start() })
afterAll(() => sim.close())
beforeEach(() => {
  sim.configure({ server: { healthy: true, capacity: 16, kv_cache_usage: null, num_requests_waiting: null }, latency: { ttft_ms: 0 }, models: ['sim-small', 'sim-large'] })
  sim.reset()
})

async function metrics(): Promise<string> {
  const r = await send(sim, '/metrics')
  expect(r.status).toBe(200)
  expect(r.headers['content-type']).toContain('text/plain')
  return r.text
}

/** Sends `models.length` chat requests that stay in flight until `release`; resolves once all are admitted. */
async function inFlight(models: string[]): Promise<{ release: () => Promise<void> }> {
  const controllers = models.map(() => new AbortController())
  const pending = models.map((model, i) => request(`${sim.url}/v1/chat/completions`, {
    method: 'POST', headers: { ...bearer('sk-any'), 'content-type': 'application/json' }, body: JSON.stringify(chatBody({ model })), signal: controllers[i]!.signal,
  }).then((r) => r.body.dump(), () => undefined))
  while (sim.stats().totals.in_flight < models.length) await new Promise((resolve) => setTimeout(resolve, 5))
  return {
    release: async () => {
      for (const c of controllers) c.abort()
      await Promise.all(pending)
      while (sim.stats().totals.in_flight > 0) await new Promise((resolve) => setTimeout(resolve, 5))
    },
  }
}

describe('GET /health', () => {
  it('answers 200 ok, and 503 while the control endpoint says the server is unhealthy', async () => {
    expect((await send(sim, '/health')).json()).toEqual({ status: 'ok' })
    expect((await send(sim, '/__sim/config', { body: { server: { healthy: false } } })).status).toBe(200)
    const down = await send(sim, '/health')
    expect(down.status).toBe(503)
    expect(down.json()).toEqual({ status: 'unhealthy' })
    sim.configure({ server: { healthy: true } })
    expect((await send(sim, '/health')).status).toBe(200)
  })

  it('needs no key and is neither recorded nor counted', async () => {
    await send(sim, '/health')
    await send(sim, '/metrics')
    expect(sim.requests()).toHaveLength(0)
    expect(sim.stats().totals.requests).toBe(0)
  })

  it('only GET: other methods get the API\'s 404', async () => {
    expect((await send(sim, '/health', { method: 'POST', body: {} })).status).toBe(404)
  })
})

describe('GET /metrics (vLLM format)', () => {
  it('an idle server: the served model with zeros', async () => {
    expect(await metrics()).toBe([
      '# HELP vllm:num_requests_running Number of requests in model execution batches.',
      '# TYPE vllm:num_requests_running gauge',
      'vllm:num_requests_running{model_name="sim-small"} 0.0',
      '# HELP vllm:num_requests_waiting Number of requests waiting to be processed.',
      '# TYPE vllm:num_requests_waiting gauge',
      'vllm:num_requests_waiting{model_name="sim-small"} 0.0',
      '# HELP vllm:gpu_cache_usage_perc GPU KV-cache usage. 1 means 100 percent usage.',
      '# TYPE vllm:gpu_cache_usage_perc gauge',
      'vllm:gpu_cache_usage_perc{model_name="sim-small"} 0.0',
      '',
    ].join('\n'))
  })

  it('derives running, waiting and KV-cache use from the requests in flight and the capacity', async () => {
    sim.configure({ server: { capacity: 2 }, latency: { ttft_ms: 5_000 } })
    const held = await inFlight(['sim-small', 'sim-small', 'sim-large'])
    try {
      const text = await metrics()
      expect(text).toContain('vllm:num_requests_running{model_name="sim-small"} 2.0')
      expect(text).toContain('vllm:num_requests_running{model_name="sim-large"} 0.0')
      expect(text).toContain('vllm:num_requests_waiting{model_name="sim-small"} 0.0')
      expect(text).toContain('vllm:num_requests_waiting{model_name="sim-large"} 1.0')
      expect(parseVllmMetrics(text)).toEqual({ running: 2, waiting: 1, kvCache: 1 })
    } finally {
      await held.release()
    }
    expect(parseVllmMetrics(await metrics())).toEqual({ running: 0, waiting: 0, kvCache: 0 })
  })

  it('KV-cache use is in flight ÷ capacity below capacity', async () => {
    sim.configure({ server: { capacity: 4 }, latency: { ttft_ms: 5_000 } })
    const held = await inFlight(['sim-small'])
    try {
      expect(parseVllmMetrics(await metrics())).toEqual({ running: 1, waiting: 0, kvCache: 0.25 })
    } finally {
      await held.release()
    }
  })

  it('fixed values set through the control endpoint replace the derived ones until set back to null', async () => {
    await send(sim, '/__sim/config', { body: { server: { kv_cache_usage: 0.93, num_requests_waiting: 5 } } })
    expect(parseVllmMetrics(await metrics())).toEqual({ running: 0, waiting: 5, kvCache: 0.93 })
    await send(sim, '/__sim/config', { body: { server: { kv_cache_usage: null, num_requests_waiting: null } } })
    expect(parseVllmMetrics(await metrics())).toEqual({ running: 0, waiting: 0, kvCache: 0 })
  })

  it('escapes label values', async () => {
    sim.configure({ models: ['we"ird\\model'] })
    const text = await metrics()
    expect(text).toContain('vllm:num_requests_running{model_name="we\\"ird\\\\model"} 0.0')
    expect(parseVllmMetrics(text)).toEqual({ running: 0, waiting: 0, kvCache: 0 })
  })

  it('rejects out-of-range server settings', async () => {
    expect((await send(sim, '/__sim/config', { body: { server: { kv_cache_usage: 1.5 } } })).status).toBe(400)
    expect((await send(sim, '/__sim/config', { body: { server: { capacity: 0 } } })).status).toBe(400)
    expect((await send(sim, '/__sim/config', { body: { server: { healty: false } } })).status).toBe(400)
  })
})
