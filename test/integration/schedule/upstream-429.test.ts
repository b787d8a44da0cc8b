import OpenAI from 'openai'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectErrorBody, send, sseData } from '../../support/data-plane.js'
import { FakeTime } from '../../support/fake-time.js'
import { startStack, type Stack } from '../../support/harness.js'
import {
  accessLogFor, chat, pacerOf, rpm429Body, scenarioConfig, scenarioSimConfig, scheduleStatus, upstreamHas, upstreamRecords,
} from '../../support/schedule.js'

// An upstream rate 429 on a managed model is the scheduler's business, not the client's: the
// request goes back to its queue and is sent again once the key may go, as long as its max
// wait allows; otherwise the client gets sluice's own 429 rate_limit_exceeded with Retry-After.
// An exhausted quota is different: it reaches the client, and the key goes out of service.
// The gateway runs on a FakeTime: a pause ends when the test moves time, so the windows below
// are exact in gateway time and cannot flake on a busy machine.

const scenarios = {
  retry: { rpm: 600 },
  float: { rpm: 600 },
  stream: { rpm: 600 },
  nocover: { rpm: 600 },
  backoff: { rpm: 600 },
  quota: { rpm: 600, sim: { quota_exhausted: true } },
}

describe('schedule: upstream 429s', () => {
  let stack: Stack
  let client: OpenAI
  const time = new FakeTime()
  beforeAll(async () => {
    stack = await startStack({ time, sim: scenarioSimConfig(scenarios), gateway: (simUrl) => scenarioConfig(simUrl, scenarios) })
    client = new OpenAI({ baseURL: stack.baseURL, apiKey: 'client-key', maxRetries: 0 })
  })
  afterAll(() => stack.close())

  const messages = [{ role: 'user' as const, content: 'hello there' }]
  const rate429 = (scenario: string, headers: Record<string, string>) =>
    stack.sim.script([{ kind: 'error', status: 429, body: rpm429Body, headers, match: { model: `up-${scenario}` } }])

  /** Resolves once `model`'s queue holds `n` requests (the 429 was taken back), asking /status. */
  async function untilWaiting(model: string, n: number): Promise<void> {
    for (let i = 0; i < 200; i++) {
      const status = await scheduleStatus(stack.gw.url)
      if (status.queues[model]?.waiting === n) return
    }
    throw new Error(`${model} never had ${n} waiting`)
  }

  it('a rate 429 is retried after retry-after-ms (preferred over retry-after): the openai client gets 200, the upstream saw 2 attempts', async () => {
    rate429('retry', { 'retry-after-ms': '150', 'retry-after': '3' })
    const pending = client.chat.completions
      .create({ model: 'retry', messages, max_tokens: 5 }, { headers: { 'x-request-id': 'retry-1', 'X-Priority': 'high' } })
      .withResponse()
    await untilWaiting('retry', 1)
    time.advance(149)
    expect((await scheduleStatus(stack.gw.url)).queues.retry?.waiting).toBe(1) // still paused
    time.advance(1_851) // well short of retry-after's 3 s
    const { data, response } = await pending
    expect(response.status).toBe(200)
    expect(data.choices[0]?.message.content).toBeTruthy()

    await upstreamHas(stack, ['retry-1'])
    const records = upstreamRecords(stack, 'retry')
    expect(records.map((r) => [r.headers['x-request-id'], r.status])).toEqual([['retry-1', 429], ['retry-1', 200]])

    const [log] = await accessLogFor(stack, ['retry-1'])
    expect(log).toMatchObject({ status: 200, outcome: 'success', attempts: 2, priority: 'high', upstreamStatus: 200 })
    // Waited in gateway time from the 429 until the pause (or the retreated pacer) let it go.
    expect(log?.queuedMs).toBeGreaterThanOrEqual(150)
    expect(log?.queuedMs).toBeLessThanOrEqual(2_000)
    expect(log?.tries).toMatchObject([
      { deployment: 'p-retry/k-retry/up-retry', upstreamStatus: 429, result: 'held-rate-limit' },
      { deployment: 'p-retry/k-retry/up-retry', upstreamStatus: 200, result: 'delivered' },
    ])

    const pacer = await pacerOf(stack.gw.url, 'retry')
    expect(pacer.upstream_429).toMatchObject({ rpm: 1 })
    expect(pacer.last_429_type).toBe('rpm')
    expect(pacer.state).toBe('retreating')
    // Halved once from 0.97 × 600.
    expect(pacer.requests.rate_rpm).toBeCloseTo(291, 0)
    const metrics = (await send(stack.gw.url, '/metrics')).text
    expect(metrics).toContain('sluice_upstream_429_total{provider="p-retry",key="k-retry",type="rpm"} 1')
  })

  it('a float retry-after (no -ms form) is honoured', async () => {
    rate429('float', { 'retry-after': '0.4' })
    const pending = chat(stack.gw.url, { model: 'float', id: 'float-1' })
    await untilWaiting('float', 1)
    time.advance(399)
    expect((await scheduleStatus(stack.gw.url)).queues.float?.waiting).toBe(1)
    time.advance(1_601)
    const res = await pending
    expect(res.status).toBe(200)
    await upstreamHas(stack, ['float-1'])
    const records = upstreamRecords(stack, 'float')
    expect(records.map((r) => r.status)).toEqual([429, 200])
    const [log] = await accessLogFor(stack, ['float-1'])
    expect(log?.queuedMs).toBeGreaterThanOrEqual(400)
  })

  it('a streaming request\'s 429 is retried too: the client reads one clean stream', async () => {
    rate429('stream', { 'retry-after-ms': '100' })
    const pending = chat(stack.gw.url, { model: 'stream', id: 'stream-1', stream: true })
    await untilWaiting('stream', 1)
    time.advance(2_000)
    const res = await pending
    expect(res.status).toBe(200)
    expect(res.headers['content-type']).toContain('text/event-stream')
    const data = sseData(res.text)
    expect(data.at(-1)).toBe('[DONE]')
    expect(res.text).not.toContain('error')
    const [log] = await accessLogFor(stack, ['stream-1'])
    expect(log).toMatchObject({ status: 200, attempts: 2, stream: true })
  })

  it('when the pause outlasts the max wait: 429 rate_limit_exceeded with Retry-After from the pacer, at once, not retried', async () => {
    rate429('nocover', { 'retry-after-ms': '5000' })
    // Gateway time never moves here: the answer comes as soon as the pause is known, not at the deadline.
    const err: unknown = await client.chat.completions
      .create({ model: 'nocover', messages }, { headers: { 'x-request-id': 'nocover-1', 'X-Sluice-Max-Wait': '1' } })
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(OpenAI.RateLimitError)
    const e = err as InstanceType<typeof OpenAI.RateLimitError>
    expect(e.status).toBe(429)
    expect(e.code).toBe('rate_limit_exceeded')
    expect(e.type).toBe('rate_limit_error')
    expect(e.headers.get('retry-after')).toBe('5')
    await upstreamHas(stack, ['nocover-1'])
    expect(upstreamRecords(stack, 'nocover').map((r) => r.status)).toEqual([429])
    const [log] = await accessLogFor(stack, ['nocover-1'])
    expect(log).toMatchObject({ status: 429, error: 'rate_limit_exceeded', attempts: 1 })
  })

  it('a 429 without retry-after backs off 1 s: a request allowed 0.5 s gets 429 rate_limit_exceeded with Retry-After 1', async () => {
    rate429('backoff', {})
    const res = await chat(stack.gw.url, { model: 'backoff', id: 'backoff-1', maxWait: '0.5' })
    expect(res.status).toBe(429)
    expectErrorBody(JSON.parse(res.text), 'rate_limit_exceeded')
    expect(res.headers['retry-after']).toBe('1')
    expect(upstreamRecords(stack, 'backoff').map((r) => r.status)).not.toContain(200)
  })

  it('insufficient_quota reaches the client and takes the key out: the next request is 503 no_capacity, never sent', async () => {
    const err: unknown = await client.chat.completions.create({ model: 'quota', messages }, { headers: { 'x-request-id': 'quota-1' } }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(OpenAI.RateLimitError)
    expect((err as InstanceType<typeof OpenAI.RateLimitError>).code).toBe('insufficient_quota')

    const next = await chat(stack.gw.url, { model: 'quota', id: 'quota-2' })
    expect(next.status).toBe(503)
    expectErrorBody(JSON.parse(next.text), 'no_capacity')
    expect(Number(next.headers['retry-after'])).toBeGreaterThan(3000) // the key's hour out of service
    await upstreamHas(stack, ['quota-1'])
    expect(upstreamRecords(stack, 'quota').map((r) => [r.headers['x-request-id'], r.status])).toEqual([['quota-1', 429]])
    expect(stack.sim.stats().keys.quota?.rate_limited.quota).toBe(1)

    const logs = await accessLogFor(stack, ['quota-1', 'quota-2'])
    expect(logs[0]).toMatchObject({ status: 429, error: 'insufficient_quota', attempts: 1 })
    expect(logs[1]).toMatchObject({ status: 503, error: 'no_capacity', attempts: 0 })
    const pacer = await pacerOf(stack.gw.url, 'quota')
    expect(pacer.out_of_service_for_ms).toBeGreaterThan(3_000_000)
    expect(pacer.upstream_429).toMatchObject({ quota: 1 })
  })
})
