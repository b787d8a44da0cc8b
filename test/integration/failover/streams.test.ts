import OpenAI from 'openai'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectErrorBody, send, sseData } from '../../support/data-plane.js'
import { startStack, type Stack } from '../../support/harness.js'
import { adminCaller, adminKey, attemptsOf, deploymentOf, provider, secretOf, upstreamSaw } from '../../support/failover.js'

// A retry is only possible while the client has received nothing. A stream cut after its first
// bytes reached the client ends with an SSE error event and is never sent again; a connection
// reset before the upstream's headers is invisible to the client: another key serves the stream.

const messages = [{ role: 'user' as const, content: 'stream please' }]
const chatBody = (stream: boolean) => ({ model: 'streams', messages, max_tokens: 8, stream })

describe('failover: no retry once a streamed byte went out', () => {
  let stack: Stack
  let client: OpenAI
  const admin = adminCaller(() => stack.gw.url)

  beforeAll(async () => {
    stack = await startStack({
      // 8 chunks a little apart, so the cut lands inside the stream, well after the first bytes.
      sim: { keys: { [secretOf('a')]: { id: 'a' }, [secretOf('b')]: { id: 'b' } }, completion_tokens: 8, latency: { tokens_per_second: 500 } },
      gateway: (simUrl) => ({
        admin: { keys: [adminKey] },
        providers: { two: provider(simUrl, [{ id: 'a' }, { id: 'b' }]) },
        models: { streams: { targets: [{ provider: 'two', model: 'up-streams' }], strategy: 'round-robin' } },
      }),
    })
    client = new OpenAI({ baseURL: stack.baseURL, apiKey: 'client-key', maxRetries: 0 })
  })
  afterAll(() => stack?.close())

  it('a reset mid-stream on one key: the client gets its chunks and then an SSE error event; the upstream saw exactly 1 attempt', async () => {
    stack.sim.script([{ kind: 'reset_mid_stream', after_chunks: 3, match: { model: 'up-streams' } }])
    const res = await send(stack.gw.url, '/v1/chat/completions', { body: chatBody(true), headers: { 'x-request-id': 'mid-1' } })
    expect(res.status).toBe(200)
    expect(res.headers['content-type']).toContain('text/event-stream')
    expect(res.headers['x-sluice-attempts']).toBe('1')
    const key = (res.headers['x-sluice-deployment'] ?? '').split('/')[1]
    expect(['a', 'b']).toContain(key)

    const events = sseData(res.text)
    expect(events).not.toContain('[DONE]')
    const last = events.at(-1) ?? ''
    const chunks = events.slice(0, -1)
    expect(chunks.length).toBeGreaterThanOrEqual(1)
    for (const c of chunks) expect((JSON.parse(c) as { object: string }).object).toBe('chat.completion.chunk')
    expectErrorBody(JSON.parse(last), 'upstream_error')

    await upstreamSaw(stack.sim, ['mid-1'])
    const attempts = attemptsOf(stack.sim, 'mid-1')
    expect(attempts).toHaveLength(1)
    expect(attempts[0]?.key_id).toBe(key)
    expect(attempts[0]?.status).toBe(200)

    const logs = await stack.logs.waitForAccessLog((all) => all.some((r) => r.requestId === 'mid-1'))
    expect(logs.find((r) => r.requestId === 'mid-1')).toMatchObject({ attempts: 1, key, stream: true })
    // The cut still counts against the key's health.
    const row = await deploymentOf(admin, `two~${key}`)
    expect(row.health).toMatchObject({ state: 'closed', consecutive_failures: 1, last_failure_kind: 'reset' })
  })

  it('the openai client reading such a stream gets an error, not a silently short answer', async () => {
    stack.sim.script([{ kind: 'reset_mid_stream', after_chunks: 3, match: { model: 'up-streams' } }])
    const stream = await client.chat.completions.create({ model: 'streams', messages, max_tokens: 8, stream: true }, { headers: { 'x-request-id': 'mid-2' } })
    let received = 0
    const err = await (async () => {
      for await (const chunk of stream) received += chunk.choices.length
    })().then(() => null, (e: unknown) => e)
    expect(received).toBeGreaterThanOrEqual(1)
    expect(err).toBeInstanceOf(OpenAI.APIError)
    await upstreamSaw(stack.sim, ['mid-2'])
    expect(attemptsOf(stack.sim, 'mid-2')).toHaveLength(1)
  })

  it('a reset before the headers of a stream: retried on the other key, the client reads one full stream, 2 attempts', async () => {
    stack.sim.script([{ kind: 'reset_before_headers', match: { model: 'up-streams' } }])
    const { data: stream, response } = await client.chat.completions
      .create({ model: 'streams', messages, max_tokens: 8, stream: true }, { headers: { 'x-request-id': 'early-1' } })
      .withResponse()
    expect(response.status).toBe(200)
    expect(response.headers.get('x-sluice-attempts')).toBe('2')
    let text = ''
    let finish: string | null = null
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? ''
      finish = chunk.choices[0]?.finish_reason ?? finish
    }
    expect(text.length).toBeGreaterThan(0)
    expect(['stop', 'length']).toContain(finish) // the stream ran to its end

    await upstreamSaw(stack.sim, ['early-1'])
    const attempts = attemptsOf(stack.sim, 'early-1')
    expect(attempts.map((r) => r.status)).toEqual([0, 200])
    expect(attempts[0]?.key_id).not.toBe(attempts[1]?.key_id)
    expect(response.headers.get('x-sluice-deployment')).toBe(`two/${attempts[1]?.key_id}/up-streams`)
  })

  it('the same, read raw: the body ends with [DONE] and carries no error', async () => {
    stack.sim.script([{ kind: 'reset_before_headers', match: { model: 'up-streams' } }])
    const res = await send(stack.gw.url, '/v1/chat/completions', { body: chatBody(true), headers: { 'x-request-id': 'early-2' } })
    expect(res.status).toBe(200)
    expect(res.headers['x-sluice-attempts']).toBe('2')
    const events = sseData(res.text)
    expect(events.at(-1)).toBe('[DONE]')
    expect(res.text).not.toContain('"error"')
    await upstreamSaw(stack.sim, ['early-2'])
    expect(attemptsOf(stack.sim, 'early-2').map((r) => r.status)).toEqual([0, 200])
  })
})
