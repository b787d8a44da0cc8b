import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { sseData } from '../../support/data-plane.js'
import { startStack, type Stack } from '../../support/harness.js'
import { accessLogFor, chat, chatBody, expectQueued, RequestWatch, scenarioConfig, scenarioSimConfig, scheduleStatus, upstreamHas } from '../../support/schedule.js'

// With queue.keepalive set, a streaming request that waits in the queue gets its response
// headers and SSE comment lines (": …") while it waits, so proxies do not cut it; then the
// normal stream. A non-streaming request, or any request without keepalive, gets nothing
// until it is dispatched.

const scenarios = {
  ka: { rpm: 60 }, // 1.03 s between requests: room for a busy machine to see them queued first
  slow: { rpm: 6 }, // 10.3 s: a queued request times out first
  leave: { rpm: 6 },
}

interface Chunk {
  readonly text: string
  /** The simulator had received the request when this chunk arrived. */
  readonly upstreamHadIt: boolean
}

interface Opened {
  readonly status: number
  readonly headers: Record<string, string | string[] | undefined>
  /** Whether the simulator had the request when the response headers arrived. */
  readonly upstreamHadItAtHeaders: boolean
  readonly chunks: Chunk[]
}

/** Sends a request and reads its answer chunk by chunk, noting what the upstream had seen at each step. */
async function open(stack: Stack, upstream: RequestWatch, model: string, id: string, stream: boolean, maxWait?: string): Promise<Opened> {
  const headers: Record<string, string> = { 'content-type': 'application/json', 'x-request-id': id, authorization: `Bearer ${id}` }
  if (maxWait !== undefined) headers['x-sluice-max-wait'] = maxWait
  const res = await request(`${stack.gw.url}/v1/chat/completions`, { method: 'POST', headers, body: chatBody({ model, id, stream, maxTokens: 6 }) })
  const upstreamHadItAtHeaders = upstream.has(id)
  const chunks: Chunk[] = []
  for await (const chunk of res.body) chunks.push({ text: Buffer.from(chunk as Uint8Array).toString('utf8'), upstreamHadIt: upstream.has(id) })
  return { status: res.statusCode, headers: res.headers, upstreamHadItAtHeaders, chunks }
}

const isComment = (text: string): boolean => text.split('\n').every((line) => line === '' || line.startsWith(':'))

describe('schedule: SSE keep-alive while queued (queue.keepalive: 40ms)', () => {
  let stack: Stack
  let upstream: RequestWatch
  beforeAll(async () => {
    stack = await startStack({ sim: scenarioSimConfig(scenarios), gateway: (simUrl) => scenarioConfig(simUrl, scenarios, { queue: { keepalive: '40ms' } }) })
    upstream = new RequestWatch(stack.sim.port)
  })
  afterAll(async () => {
    upstream.close()
    await stack.close()
  })

  it('a waiting stream gets comment lines before any upstream byte, then the whole normal stream; a waiting JSON request gets nothing until dispatch', async () => {
    expect((await chat(stack.gw.url, { model: 'ka', id: 'ka-first' })).status).toBe(200)
    const watch = new RequestWatch(stack.gw.port, 'end')
    const streamed = open(stack, upstream, 'ka', 'ka-stream', true)
    await expectQueued(stack, watch, 1, 'ka', 1)
    const plain = open(stack, upstream, 'ka', 'ka-json', false)
    await expectQueued(stack, watch, 2, 'ka', 2)
    watch.close()

    const s = await streamed
    expect(s.status).toBe(200)
    expect(String(s.headers['content-type'])).toContain('text/event-stream')
    expect(s.upstreamHadItAtHeaders).toBe(false)
    const firstData = s.chunks.findIndex((c) => !isComment(c.text))
    expect(firstData).toBeGreaterThanOrEqual(2) // ~1 s of waiting at one comment per 40 ms
    for (const c of s.chunks.slice(0, firstData)) {
      expect(c.text).toMatch(/^: .*\n\n$/)
      expect(c.upstreamHadIt).toBe(false)
    }
    const text = s.chunks.map((c) => c.text).join('')
    const events = sseData(text).filter((d) => d !== '')
    expect(events.at(-1)).toBe('[DONE]')
    for (const e of events.slice(0, -1)) expect(JSON.parse(e)).toMatchObject({ object: 'chat.completion.chunk' })
    const [streamLog] = await accessLogFor(stack, ['ka-stream'])
    expect(streamLog).toMatchObject({ status: 200, stream: true, attempts: 1 })

    const p = await plain
    expect(p.status).toBe(200)
    expect(p.upstreamHadItAtHeaders).toBe(true)
    expect(JSON.parse(p.chunks.map((c) => c.text).join(''))).toMatchObject({ object: 'chat.completion' })
    await upstreamHas(stack, ['ka-first', 'ka-stream', 'ka-json'])
  })

  it('a kept-alive stream whose client leaves mid-wait is taken out at once: 499, never sent, queue empty', async () => {
    expect((await chat(stack.gw.url, { model: 'leave', id: 'leave-first' })).status).toBe(200)
    const abort = new AbortController()
    const res = await request(`${stack.gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'leave-stream' },
      body: chatBody({ model: 'leave', id: 'leave-stream', stream: true }),
      signal: abort.signal,
    })
    expect(res.statusCode).toBe(200)
    // Two comments read, then the client goes.
    let comments = 0
    try {
      for await (const chunk of res.body) {
        expect(isComment(Buffer.from(chunk as Uint8Array).toString('utf8'))).toBe(true)
        if (++comments === 2) abort.abort()
      }
    } catch {
      // the abort
    }
    const [log] = await accessLogFor(stack, ['leave-stream'])
    expect(log).toMatchObject({ status: 499, outcome: 'client_abort', attempts: 0 })
    const status = await scheduleStatus(stack.gw.url)
    expect(status.queues.leave?.waiting).toBe(0)
    expect(status.requests.in_flight).toBe(0)
    expect(upstream.has('leave-stream')).toBe(false)
  })

  it('a kept-alive stream that runs out of wait ends with one SSE error event (queue_timeout) and no [DONE]; nothing went upstream', async () => {
    expect((await chat(stack.gw.url, { model: 'slow', id: 'slow-first' })).status).toBe(200)
    const s = await open(stack, upstream, 'slow', 'slow-stream', true, '0.3')
    expect(s.status).toBe(200)
    const text = s.chunks.map((c) => c.text).join('')
    const events = sseData(text).filter((d) => d !== '')
    expect(events).toHaveLength(1)
    const body = JSON.parse(events[0] as string) as { error: { code: string; type: string } }
    expect(body.error).toMatchObject({ code: 'queue_timeout', type: 'overloaded_error' })
    expect(text).not.toContain('[DONE]')
    expect(upstream.has('slow-stream')).toBe(false)
    const [log] = await accessLogFor(stack, ['slow-stream'])
    expect(log).toMatchObject({ error: 'queue_timeout', attempts: 0 })
  })
})

describe('schedule: no keep-alive by default', () => {
  let stack: Stack
  let upstream: RequestWatch
  beforeAll(async () => {
    stack = await startStack({ sim: scenarioSimConfig(scenarios), gateway: (simUrl) => scenarioConfig(simUrl, scenarios) })
    upstream = new RequestWatch(stack.sim.port)
  })
  afterAll(async () => {
    upstream.close()
    await stack.close()
  })

  it('a waiting stream receives nothing (not even headers) until it is dispatched', async () => {
    expect((await chat(stack.gw.url, { model: 'ka', id: 'plain-first' })).status).toBe(200)
    const watch = new RequestWatch(stack.gw.port, 'end')
    const streamed = open(stack, upstream, 'ka', 'plain-stream', true)
    await expectQueued(stack, watch, 1, 'ka', 1)
    watch.close()
    const s = await streamed
    expect(s.status).toBe(200)
    expect(s.upstreamHadItAtHeaders).toBe(true)
    expect(s.chunks.some((c) => c.text.startsWith(':'))).toBe(false)
    expect(sseData(s.chunks.map((c) => c.text).join('')).at(-1)).toBe('[DONE]')
  })
})
