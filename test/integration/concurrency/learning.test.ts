import OpenAI from 'openai'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { send } from '../../support/data-plane.js'
import { startStack, type Stack } from '../../support/harness.js'
import { Arrivals, concurrency429Body, limitStatus, openCall, PermitMonitor, sample } from '../../support/concurrency.js'

// An adaptive key learns its upstream's concurrency cap from the upstream's concurrency 429s:
// clients see none of them (each is held and sent again within its max wait), the limit is cut
// to floor(0.9 × Ĉ) with Ĉ at most the cap, and with it learned the 429s stop. A fixed key never sends
// more than its limit and never changes it, even when its upstream answers a concurrency 429.
// /status and /metrics show both keys by id, never by secret.

const secrets = { learn: 'sk-learn-upstream-secret', fixed: 'sk-fixed-upstream-secret' }
const ids = { learn: 'p-learn~k-learn', fixed: 'p-fixed~k-fixed' }
const upstreamCap = 3
const fixedLimit = 2
const batch = 30
const messages = [{ role: 'user' as const, content: 'How many at once?' }]

describe('concurrency: learned and fixed limits per key', () => {
  let stack: Stack
  let client: OpenAI
  let simArrivals: Arrivals
  let monitor: PermitMonitor

  beforeAll(async () => {
    stack = await startStack({
      sim: {
        // Long enough that a burst is in flight together, short enough that 30 requests two at a time take well under a second.
        latency: { ttft_ms: 40 },
        keys: { [secrets.learn]: { id: 'learn', max_concurrent: upstreamCap }, [secrets.fixed]: { id: 'fixed' } },
      },
      gateway: (simUrl) => ({
        providers: {
          'p-learn': { type: 'openai', base_url: `${simUrl}/v1`, keys: [{ id: 'k-learn', key: secrets.learn }] },
          'p-fixed': { type: 'openai', base_url: `${simUrl}/v1`, keys: [{ id: 'k-fixed', key: secrets.fixed, max_concurrent: fixedLimit }] },
        },
        models: {
          learn: { targets: [{ provider: 'p-learn', model: 'up-learn' }] },
          fixed: { targets: [{ provider: 'p-fixed', model: 'up-fixed' }] },
        },
      }),
    })
    client = new OpenAI({ baseURL: stack.baseURL, apiKey: 'client-key', maxRetries: 0 })
    simArrivals = new Arrivals(stack.sim.port)
    monitor = new PermitMonitor(stack.gw)
  })
  afterAll(async () => {
    monitor?.close()
    simArrivals?.close()
    await stack?.close()
  })

  const ask = (model: string, id: string): Promise<OpenAI.Chat.Completions.ChatCompletion> =>
    client.chat.completions.create({ model, messages, max_tokens: 4 }, { headers: { 'x-request-id': id } })
  const burst = (model: string, prefix: string, from: number, to: number): Promise<OpenAI.Chat.Completions.ChatCompletion>[] =>
    Array.from({ length: to - from }, (_, i) => ask(model, `${prefix}-${String(from + i).padStart(2, '0')}`))

  it('an adaptive key learns its upstream cap from concurrency 429s while every client request succeeds', async () => {
    expect(await limitStatus(stack.gw.url, ids.learn)).toMatchObject({
      mode: 'adaptive', effective_limit: 8, learned_exact: 8, accepted_level: null, in_flight: 0, concurrent_429_count: 0, last_429_type: null,
    })

    // The first three fill the upstream's cap; the rest of the burst then meets it.
    const first = burst('learn', 'learn-a', 0, upstreamCap)
    for (let i = 0; i < upstreamCap; i++) await simArrivals.arrived(`learn-a-0${i}`)
    const answers = await Promise.all([...first, ...burst('learn', 'learn-a', upstreamCap, batch)])
    expect(answers.map((a) => a.object)).toEqual(Array(batch).fill('chat.completion'))

    await stack.sim.waitForRequests(simArrivals.started)
    const upstream = stack.sim.stats().keys.learn
    expect(upstream).toMatchObject({ ok: batch, in_flight: 0, max_concurrency_seen: upstreamCap })
    const refused = upstream?.rate_limited.concurrent ?? 0
    expect(refused).toBeGreaterThan(0)

    // L is 0.9 × the lowest level refused, less one, after a refusal at a level the upstream had
    // taken; after a refusal above every level taken since (an overshoot: issue 14) it is that
    // level less one, no more than the cap. Ĉ, the ceiling L grows back to, bounds it either way.
    const learned = await limitStatus(stack.gw.url, ids.learn)
    expect(learned).toMatchObject({ mode: 'adaptive', in_flight: 0, concurrent_429_count: refused, last_429_type: 'concurrent' })
    const accepted = learned.accepted_level as number
    expect(accepted).toBeGreaterThanOrEqual(1)
    expect(learned.learned_exact as number).toBeLessThanOrEqual(accepted)
    expect(learned.effective_limit).toBe(Math.floor(learned.learned_exact as number))
    expect(learned.effective_limit).toBeLessThanOrEqual(upstreamCap)
    // The access log counts each refusal as an extra attempt of a request that still succeeded.
    const logs = stack.logs.accessLog().filter((r) => String(r.requestId).startsWith('learn-a-'))
    expect(logs).toHaveLength(batch)
    expect(logs.every((r) => r.status === 200)).toBe(true)
    expect(logs.reduce((n, r) => n + (r.attempts as number) - 1, 0)).toBe(refused)
  })

  it('with the limit learned, the next saturating batch meets no concurrency 429', async () => {
    const before = await limitStatus(stack.gw.url, ids.learn)
    stack.sim.reset()
    simArrivals.resetCount()
    monitor.reset()
    const answers = await Promise.all(burst('learn', 'learn-b', 0, batch))
    expect(answers).toHaveLength(batch)
    await stack.sim.waitForRequests(simArrivals.started)
    const upstream = stack.sim.stats().keys.learn
    expect(upstream).toMatchObject({ requests: batch, ok: batch, rate_limited: { concurrent: 0 } })
    // A saturated key may grow L again only 5 s after the last 429; this batch ends long before.
    const after = await limitStatus(stack.gw.url, ids.learn)
    expect(after).toMatchObject({ concurrent_429_count: before.concurrent_429_count, accepted_level: before.accepted_level, in_flight: 0 })
    expect(after.effective_limit).toBeLessThanOrEqual(upstreamCap)
    expect(upstream?.max_concurrency_seen).toBeLessThanOrEqual(after.effective_limit)
    // Saturated: the key used every permit it had.
    expect(monitor.peak.get(ids.learn)).toBeGreaterThanOrEqual(before.effective_limit)
    expect(monitor.peak.get(ids.learn)).toBeLessThanOrEqual(after.effective_limit)
  })

  it('a fixed key never has more than its limit in flight upstream, and a concurrency 429 does not change it', async () => {
    const fixed = { mode: 'fixed', effective_limit: fixedLimit, learned_exact: 8, accepted_level: null }
    expect(await limitStatus(stack.gw.url, ids.fixed)).toMatchObject({ ...fixed, concurrent_429_count: 0 })
    stack.sim.reset()
    simArrivals.resetCount()
    monitor.reset()

    const answers = await Promise.all(burst('fixed', 'fixed-a', 0, batch))
    expect(answers).toHaveLength(batch)
    await stack.sim.waitForRequests(simArrivals.started)
    // Saturated: exactly the limit in flight at the upstream, never more, never refused.
    expect(stack.sim.stats().keys.fixed).toMatchObject({ requests: batch, ok: batch, max_concurrency_seen: fixedLimit, rate_limited: { concurrent: 0 } })
    expect(monitor.peak.get(ids.fixed)).toBe(fixedLimit)
    expect(monitor.violations.join('\n')).toBe('')

    // The upstream refuses one for concurrency: the request is sent again and succeeds; the
    // refusal is counted, and the limit stays what the config says.
    stack.sim.script([{ kind: 'error', status: 429, body: concurrency429Body('up-fixed', fixedLimit), match: { model: 'up-fixed' } }])
    expect((await ask('fixed', 'fixed-429')).object).toBe('chat.completion')
    expect(await limitStatus(stack.gw.url, ids.fixed)).toMatchObject({ ...fixed, concurrent_429_count: 1, last_429_type: 'concurrent', in_flight: 0 })
  })

  it('/metrics and /status show each key\'s limit, mode and permits by id, never a secret', async () => {
    // A stream held open shows as one permit on its key.
    stack.sim.script([{ kind: 'slow_chunks', interval_ms: 40, chunks: 200, match: { model: 'up-fixed' } }])
    const abort = new AbortController()
    const held = openCall(stack.gw.url, { id: 'fixed-held', model: 'fixed', stream: true, signal: abort.signal })
    await held.firstChunk
    let metrics = (await send(stack.gw.url, '/metrics')).text
    expect(sample(metrics, 'sluice_concurrency_in_flight{provider="p-fixed",key="k-fixed"}')).toBe('1')
    expect(sample(metrics, 'sluice_concurrency_in_flight{provider="p-learn",key="k-learn"}')).toBe('0')
    abort.abort()
    expect((await held.result).aborted).toBe(true)
    await stack.logs.waitForAccessLog((all) => all.some((r) => r.requestId === 'fixed-held'))

    metrics = (await send(stack.gw.url, '/metrics')).text
    const learned = await limitStatus(stack.gw.url, ids.learn)
    expect(sample(metrics, 'sluice_concurrency_limit{provider="p-learn",key="k-learn",mode="adaptive"}')).toBe(String(learned.effective_limit))
    expect(sample(metrics, 'sluice_concurrency_limit{provider="p-fixed",key="k-fixed",mode="fixed"}')).toBe(String(fixedLimit))
    expect(sample(metrics, 'sluice_concurrency_in_flight{provider="p-fixed",key="k-fixed"}')).toBe('0')
    expect(sample(metrics, 'sluice_concurrency_in_flight{provider="p-learn",key="k-learn"}')).toBe('0')
    expect(metrics.split('\n').filter((l) => l.startsWith('sluice_concurrency_'))).toHaveLength(4)

    const status = (await send(stack.gw.url, '/status')).text
    for (const text of [metrics, status, stack.logs.lines.join('\n')]) {
      for (const secret of Object.values(secrets)) expect(text).not.toContain(secret)
    }
    expect(status).toContain(`"id":"${ids.learn}"`)
    expect(status).toContain(`"id":"${ids.fixed}"`)
  })
})
