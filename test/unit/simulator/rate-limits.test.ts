import { request } from 'undici'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { Simulator } from '../../../src/simulator/index.js'
import { bearer, chatBody, FakeClock, send, start } from './helpers.js'

const T0 = Date.UTC(2025, 0, 1, 12, 0, 0)
const clock = new FakeClock(T0)
let sim: Simulator
beforeAll(async () => {
  sim = await start({
    completion_tokens: 16,
    keys: {
      'sk-oa': { rpm: 2, tpm: 1000 },
      'sk-tpm': { tpm: 30 },
      'sk-az': { rpm: 1, tpm: 1000, headers: 'azure' },
      'sk-ant': { rpm: 1, tpm: 1000, headers: 'anthropic' },
      'sk-none': { rpm: 1, headers: 'none' },
      'sk-bare': { rpm: 1, headers: 'none', retry_after: false },
      'sk-conc': { id: 'conc', rpm: 100, max_concurrent: 1 },
      'sk-quota': { quota_exhausted: true },
      'sk-revoked': { revoked: true },
      'sk-fixed': { rpm: 1, algorithm: 'fixed-window' },
      'sk-log': { rpm: 1, algorithm: 'sliding-log' },
    },
  }, clock)
})
beforeEach(() => {
  clock.t = T0
  sim.reset()
})
afterAll(() => sim.close())

const chat = (key: string, extra: Record<string, unknown> = {}): ReturnType<typeof send> =>
  send(sim, '/v1/chat/completions', { headers: bearer(key), body: chatBody(extra) })
const rateHeaders = (h: Record<string, string>): Record<string, string> =>
  Object.fromEntries(Object.entries(h).filter(([k]) => k.includes('ratelimit') || k.startsWith('retry-after')))

describe('429s and rate-limit headers per mode', () => {
  it('openai: limit/remaining/reset as Go durations, then a requests 429 with retry-after and retry-after-ms', async () => {
    // Cost = prompt estimate 9 + 16 completion tokens = 25.
    expect(rateHeaders((await chat('sk-oa')).headers)).toEqual({
      'x-ratelimit-limit-requests': '2', 'x-ratelimit-remaining-requests': '1', 'x-ratelimit-reset-requests': '30s',
      'x-ratelimit-limit-tokens': '1000', 'x-ratelimit-remaining-tokens': '975', 'x-ratelimit-reset-tokens': '1.5s',
    })
    expect((await chat('sk-oa')).headers['x-ratelimit-remaining-requests']).toBe('0')
    const refused = await chat('sk-oa')
    expect(refused.status).toBe(429)
    expect(rateHeaders(refused.headers)).toEqual({
      'x-ratelimit-limit-requests': '2', 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '1m0s',
      'x-ratelimit-limit-tokens': '1000', 'x-ratelimit-remaining-tokens': '950', 'x-ratelimit-reset-tokens': '3s',
      'retry-after': '30', 'retry-after-ms': '30000',
    })
    const error = (refused.json() as { error: { message: string } }).error
    expect(error).toEqual({ message: expect.stringMatching(/^Rate limit reached for requests/) as string, type: 'requests', param: null, code: 'rate_limit_exceeded' })
    clock.advance(30_000)
    expect((await chat('sk-oa')).status).toBe(200)
    await sim.waitForRequests(4)
    expect(sim.stats().keys['sk-oa']).toMatchObject({ requests: 4, ok: 3, rate_limited: { rpm: 1, tpm: 0, concurrent: 0, quota: 0 } })
  })

  it('openai: a tokens 429 has type "tokens" and remaining tokens below the cost', async () => {
    expect((await chat('sk-tpm', { max_tokens: 20 })).status).toBe(200)
    const refused = await chat('sk-tpm', { max_tokens: 20 })
    expect(refused.status).toBe(429)
    expect(refused.json()).toMatchObject({ error: { type: 'tokens', code: 'rate_limit_exceeded' } })
    expect(refused.headers['x-ratelimit-remaining-tokens']).toBe('1')
    expect(refused.headers['x-ratelimit-remaining-requests']).toBeUndefined()
    await sim.waitForRequests(2)
    expect(sim.stats().keys['sk-tpm']?.rate_limited.tpm).toBe(1)
  })

  it('azure: remaining headers only, integer retry-after, Azure 429 body', async () => {
    expect(rateHeaders((await chat('sk-az')).headers)).toEqual({ 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-remaining-tokens': '975' })
    const refused = await chat('sk-az')
    expect(refused.status).toBe(429)
    expect(rateHeaders(refused.headers)).toEqual({ 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-remaining-tokens': '975', 'retry-after': '60' })
    const azure = await send(sim, '/openai/deployments/d/chat/completions?api-version=2024-10-21', { headers: { 'api-key': 'sk-az' }, body: chatBody() })
    expect(azure.json()).toEqual({ error: { code: '429', message: expect.any(String) as string } })
  })

  it('anthropic: anthropic-ratelimit-* with RFC 3339 resets, rate_limit_error body', async () => {
    const headers = { 'x-api-key': 'sk-ant', 'anthropic-version': '2023-06-01' }
    const body = { model: 'claude-sim', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }
    const ok = await send(sim, '/v1/messages', { headers, body })
    expect(rateHeaders(ok.headers)).toEqual({
      'anthropic-ratelimit-requests-limit': '1', 'anthropic-ratelimit-requests-remaining': '0', 'anthropic-ratelimit-requests-reset': '2025-01-01T12:01:00Z',
      'anthropic-ratelimit-tokens-limit': '1000', 'anthropic-ratelimit-tokens-remaining': '989', 'anthropic-ratelimit-tokens-reset': '2025-01-01T12:00:01Z',
    })
    const refused = await send(sim, '/v1/messages', { headers, body })
    expect(refused.status).toBe(429)
    expect(refused.headers['retry-after']).toBe('60')
    expect(refused.headers['retry-after-ms']).toBeUndefined()
    expect(refused.json()).toEqual({ type: 'error', error: { type: 'rate_limit_error', message: expect.any(String) as string } })
  })

  it('none: no rate-limit headers; retry-after only when retry_after is on', async () => {
    expect(rateHeaders((await chat('sk-none')).headers)).toEqual({})
    expect(rateHeaders((await chat('sk-none')).headers)).toEqual({ 'retry-after': '60' })
    expect(rateHeaders((await chat('sk-bare')).headers)).toEqual({})
    const bare = await chat('sk-bare')
    expect(bare.status).toBe(429)
    expect(rateHeaders(bare.headers)).toEqual({})
  })

  it('fixed-window and sliding-log keys refill on their own schedule', async () => {
    clock.t = Date.UTC(2025, 0, 1, 12, 0, 50)
    expect((await chat('sk-fixed')).status).toBe(200)
    expect((await chat('sk-log')).status).toBe(200)
    const fixed = await chat('sk-fixed')
    expect(fixed.headers['x-ratelimit-reset-requests']).toBe('10s')
    expect((await chat('sk-log')).headers['retry-after-ms']).toBe('60000')
    clock.advance(10_000)
    expect((await chat('sk-fixed')).status).toBe(200)
    expect((await chat('sk-log')).status).toBe(429)
  })
})

describe('concurrency, quota, revoked and unknown keys', () => {
  it('a concurrency 429 while a stream is in flight; never a remaining-0 header', async () => {
    sim.script([{ kind: 'slow_chunks', interval_ms: 60_000, chunks: 2, match: { key: 'conc' } }])
    const controller = new AbortController()
    const first = await request(`${sim.url}/v1/chat/completions`, {
      method: 'POST', headers: bearer('sk-conc'), body: JSON.stringify(chatBody({ stream: true })), signal: controller.signal,
    })
    expect(first.statusCode).toBe(200)
    const refused = await chat('sk-conc')
    expect(refused.status).toBe(429)
    expect((refused.json() as { error: { message: string } }).error.message).toMatch(/concurrent/)
    expect(refused.headers['x-ratelimit-remaining-requests']).toBe('100')
    expect(refused.headers['retry-after']).toBe('1')
    controller.abort()
    await first.body.text().catch(() => undefined)
    await sim.waitForRequests(2)
    expect(sim.stats().keys.conc).toMatchObject({ requests: 2, aborted: 1, in_flight: 0, max_concurrency_seen: 1, rate_limited: { concurrent: 1 } })
  })

  it('quota_exhausted answers insufficient_quota; revoked and unlisted (when refused) answer 401', async () => {
    const quota = await chat('sk-quota')
    expect(quota.status).toBe(429)
    expect(quota.json()).toMatchObject({ error: { type: 'insufficient_quota', code: 'insufficient_quota' } })
    expect(quota.headers['retry-after']).toBeUndefined()
    const revoked = await chat('sk-revoked')
    expect(revoked.status).toBe(401)
    expect(revoked.json()).toMatchObject({ error: { code: 'invalid_api_key' } })
    sim.configure({ accept_unknown_keys: false })
    const unknown = await chat('sk-unknown-secret-value')
    sim.configure({ accept_unknown_keys: true })
    expect(unknown.status).toBe(401)
    await sim.waitForRequests(3)
    const stats = sim.stats()
    expect(stats.keys['sk-quota']?.rate_limited.quota).toBe(1)
    expect(stats.keys['sk-revoked']?.errors).toBe(1)
    // An unlisted key is named by a prefix, never in full.
    expect(stats.keys['sk-unkno…']?.errors).toBe(1)
    expect(JSON.stringify(stats)).not.toContain('sk-unknown-secret-value')
    expect(stats.totals).toMatchObject({ requests: 3, errors: 2, rate_limited: { quota: 1 } })
  })

  it('configure() changes a limit while running; a changed header mode keeps the limiter state', async () => {
    expect((await chat('sk-none')).status).toBe(200)
    sim.configure({ keys: { 'sk-none': { headers: 'openai' } } })
    const refused = await chat('sk-none')
    expect(refused.status).toBe(429)
    expect(refused.headers['x-ratelimit-remaining-requests']).toBe('0')
    sim.configure({ keys: { 'sk-none': { rpm: 5 } } })
    expect((await chat('sk-none')).headers['x-ratelimit-remaining-requests']).toBe('4')
    sim.configure({ keys: { 'sk-none': { rpm: null } } })
    expect((await chat('sk-none')).headers['x-ratelimit-limit-requests']).toBeUndefined()
    sim.configure({ keys: { 'sk-none': { rpm: 1, headers: 'none' } } })
  })
})
