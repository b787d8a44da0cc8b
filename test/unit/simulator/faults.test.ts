import net from 'node:net'
import { request } from 'undici'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { ECHO_KEY_HEADER, type Simulator } from '../../../src/simulator/index.js'
import { splitPoint } from '../../../src/simulator/http/deliver.js'
import { bearer, chatBody, send, sha256, sseData, start } from './helpers.js'

let sim: Simulator
beforeAll(async () => { sim = await start({ completion_tokens: 6 }) })
beforeEach(() => {
  sim.configure({ faults: { error_rate: 0, reset_before_headers_rate: 0, reset_mid_stream_rate: 0, stall_rate: 0, garbage_rate: 0 }, chunk_split_utf8: false })
  sim.reset()
})
afterAll(() => sim.close())

const KEY = 'sk-fault-test-key'
const chat = (extra: Record<string, unknown> = {}): ReturnType<typeof send> =>
  send(sim, '/v1/chat/completions', { headers: bearer(KEY), body: chatBody(extra) })

/** Streams a response, keeping every byte that arrived before an error. */
async function streamUntilError(extra: Record<string, unknown> = {}, bodyTimeout?: number): Promise<{ status: number, bytes: Buffer, error: unknown }> {
  const res = await request(`${sim.url}/v1/chat/completions`, {
    method: 'POST', headers: bearer(KEY), body: JSON.stringify(chatBody({ stream: true, ...extra })), bodyTimeout,
  })
  const chunks: Buffer[] = []
  let error: unknown = null
  try {
    for await (const chunk of res.body) chunks.push(chunk as Buffer)
  } catch (err) {
    error = err
  }
  return { status: res.statusCode, bytes: Buffer.concat(chunks), error }
}

describe('scripted faults', () => {
  it('error: the dialect error body for the status, or the given body and headers', async () => {
    sim.script([{ kind: 'error', status: 503 }, { kind: 'error', status: 418, body: { custom: true }, headers: { 'x-extra': 'yes' } }])
    const first = await chat()
    expect(first.status).toBe(503)
    expect(first.json()).toEqual({ error: { message: expect.any(String) as string, type: 'server_error', param: null, code: null } })
    const second = await chat()
    expect(second.status).toBe(418)
    expect(second.json()).toEqual({ custom: true })
    expect(second.headers['x-extra']).toBe('yes')
    expect((await chat()).status).toBe(200)
    await sim.waitForRequests(3)
    expect(sim.stats().totals).toMatchObject({ requests: 3, ok: 1, errors: 2 })
  })

  it('reset_before_headers: the connection closes with no status line', async () => {
    sim.script([{ kind: 'reset_before_headers' }])
    await expect(chat()).rejects.toThrow()
    await sim.waitForRequests(1)
    expect(sim.requests()[0]).toMatchObject({ status: 0, aborted: false, bytes_sent: 0 })
    expect(sim.stats().totals).toMatchObject({ errors: 1, aborted: 0, in_flight: 0 })
  })

  it('reset_mid_stream: cut after n token chunks, every written byte delivered first', async () => {
    sim.script([{ kind: 'reset_mid_stream', after_chunks: 2 }])
    const r = await streamUntilError()
    expect(r.status).toBe(200)
    expect(r.error).not.toBeNull()
    const data = sseData(r.bytes.toString('utf8'))
    expect(data).toHaveLength(1 + 2)
    await sim.waitForRequests(1)
    expect(sim.requests()[0]).toMatchObject({ status: 200, aborted: false, bytes_sent: r.bytes.length, sha256: sha256(r.bytes) })
    expect(sim.stats().totals.errors).toBe(1)
  })

  it('reset_mid_stream on a non-streamed answer cuts halfway through the body', async () => {
    sim.script([{ kind: 'reset_mid_stream', after_chunks: 0 }])
    await expect(chat().then((r) => r.text)).rejects.toThrow()
  })

  it('stall_before_headers holds the response, then answers normally', async () => {
    sim.script([{ kind: 'stall_before_headers', ms: 40 }])
    const t0 = performance.now()
    const r = await chat()
    expect(r.status).toBe(200)
    expect(performance.now() - t0).toBeGreaterThanOrEqual(38)
  })

  it('stall_mid_stream: a client idle timeout fires, the simulator sees the abort and stops', async () => {
    sim.script([{ kind: 'stall_mid_stream', after_chunks: 1, ms: 60_000 }])
    const t0 = performance.now()
    const r = await streamUntilError({}, 100)
    expect(r.error).toMatchObject({ code: 'UND_ERR_BODY_TIMEOUT' })
    expect(sseData(r.bytes.toString('utf8'))).toHaveLength(1 + 1)
    await sim.waitForRequests(1)
    expect(performance.now() - t0).toBeLessThan(10_000)
    expect(sim.requests()[0]).toMatchObject({ aborted: true, sha256: sha256(r.bytes) })
    expect(sim.stats().totals).toMatchObject({ aborted: 1, in_flight: 0 })
  })

  it('garbage: 200 with a body that is not JSON, and SSE without [DONE]', async () => {
    sim.script([{ kind: 'garbage' }, { kind: 'garbage' }])
    const whole = await chat()
    expect(whole.status).toBe(200)
    expect(() => whole.json()).toThrow()
    const streamed = await chat({ stream: true })
    expect(streamed.headers['content-type']).toBe('text/event-stream')
    expect(streamed.text).not.toContain('[DONE]')
    expect(() => sseData(streamed.text).map((d) => JSON.parse(d) as unknown)).toThrow()
    await sim.waitForRequests(2)
    expect(sim.stats().totals.errors).toBe(2)
  })

  it('slow_chunks: exactly n content chunks at the interval', async () => {
    sim.script([{ kind: 'slow_chunks', interval_ms: 20, chunks: 3 }])
    const t0 = performance.now()
    const r = await chat({ stream: true, stream_options: { include_usage: true } })
    expect(performance.now() - t0).toBeGreaterThanOrEqual(38)
    const data = sseData(r.text)
    expect(data).toHaveLength(1 + 3 + 1 + 1 + 1)
    expect(JSON.parse(data[5] ?? '{}')).toMatchObject({ usage: { completion_tokens: 3 } })
  })

  it('echo_key_in_error: the received key in the body and in a header', async () => {
    sim.script([{ kind: 'echo_key_in_error', status: 401 }])
    const r = await chat()
    expect(r.status).toBe(401)
    expect(r.text).toContain(KEY)
    expect(r.headers[ECHO_KEY_HEADER]).toBe(KEY)
  })

  it('echo_key_in_answer: a 200 quoting the received key in its body and headers, JSON or SSE', async () => {
    sim.script([{ kind: 'echo_key_in_answer' }, { kind: 'echo_key_in_answer' }])
    const json = await chat()
    expect(json.status).toBe(200)
    expect(json.json()).toMatchObject({ echo: `Incorrect API key provided: ${KEY}`, object: 'chat.completion' })
    expect(json.headers[ECHO_KEY_HEADER]).toBe(KEY)
    expect(json.headers['content-type']).toContain(KEY)
    const stream = await chat({ stream: true })
    const data = sseData(stream.text)
    expect(JSON.parse(data[1] ?? '{}')).toMatchObject({ choices: [{ delta: { content: KEY } }] })
    expect(JSON.parse(data[data.length - 1] ?? '{}')).toEqual({ error: { message: `Incorrect API key provided: ${KEY}`, type: 'invalid_request_error', param: null, code: 'invalid_api_key' } })
    expect(stream.text).not.toContain('[DONE]')
  })

  it('echo_key_in_answer with split: each quoted key arrives in two chunks', async () => {
    sim.script([{ kind: 'echo_key_in_answer', split: true }])
    const res = await request(`${sim.url}/v1/chat/completions`, { method: 'POST', headers: bearer(KEY), body: JSON.stringify(chatBody({ stream: true })) })
    const chunks: string[] = []
    for await (const chunk of res.body) chunks.push((chunk as Buffer).toString())
    const whole = chunks.join('')
    expect(whole.split(KEY)).toHaveLength(3)
    expect(chunks.some((c) => c.includes(KEY))).toBe(false)
  })

  it('steps are consumed FIFO by the first request they match', async () => {
    sim.script([
      { kind: 'error', status: 500, match: { model: 'other' } },
      { kind: 'error', status: 502, match: { key: KEY, path: '/v1/chat/completions' } },
      { kind: 'error', status: 503 },
    ])
    expect((await chat()).status).toBe(502)
    expect((await chat()).status).toBe(503)
    expect((await chat()).status).toBe(200)
    expect((await chat({ model: 'other' })).status).toBe(500)
  })

  it('applies to every dialect', async () => {
    sim.script([{ kind: 'error', status: 500 }, { kind: 'error', status: 500 }])
    const ant = await send(sim, '/v1/messages', { headers: { 'x-api-key': KEY, 'anthropic-version': '2023-06-01' }, body: { model: 'c', max_tokens: 2, messages: [{ role: 'user', content: 'x' }] } })
    expect(ant.json()).toMatchObject({ type: 'error', error: { type: 'api_error' } })
    const az = await send(sim, '/openai/deployments/d/embeddings?api-version=1', { headers: { 'api-key': KEY }, body: { input: 'x' } })
    expect(az.status).toBe(500)
  })

  it('rejects an invalid script with the path of the problem', () => {
    expect(() => sim.script([{ kind: 'stall_mid_stream', after_chunks: -1, ms: 5 }])).toThrow(/0\.after_chunks/)
  })
})

describe('random faults', () => {
  const statuses = async (n: number): Promise<number[]> => {
    const out: number[] = []
    for (let i = 0; i < n; i++) out.push((await chat()).status)
    return out
  }

  it('are reproducible from the seed', async () => {
    sim.configure({ seed: 42, faults: { error_rate: 0.5, error_status: 503 } })
    const first = await statuses(20)
    sim.reset()
    const second = await statuses(20)
    expect(second).toEqual(first)
    expect(first.filter((s) => s === 503).length).toBeGreaterThan(3)
    expect(first.filter((s) => s === 200).length).toBeGreaterThan(3)
    sim.configure({ seed: 7 })
    expect(await statuses(20)).not.toEqual(first)
  })

  it('a key\'s own error_rate fails that key alone, with the shared error_status', async () => {
    const BAD = 'sk-fault-bad-key'
    sim.configure({ seed: 3, faults: { error_status: 502 }, keys: { [BAD]: { id: 'bad', error_rate: 0.5 }, [KEY]: { id: 'good' } } })
    const bad: number[] = []
    for (let i = 0; i < 40; i++) bad.push((await send(sim, '/v1/chat/completions', { headers: bearer(BAD), body: chatBody() })).status)
    expect(bad.filter((s) => s === 502).length).toBeGreaterThan(10)
    expect(bad.filter((s) => s === 200).length).toBeGreaterThan(10)
    expect(new Set(bad)).toEqual(new Set([200, 502]))
    expect(await statuses(20)).toEqual(Array(20).fill(200))
    sim.configure({ keys: { [BAD]: null, [KEY]: null } })
  })

  it('reset_mid_stream_rate cuts after half the chunks', async () => {
    sim.configure({ faults: { reset_mid_stream_rate: 1 } })
    const r = await streamUntilError({ max_tokens: 10 })
    expect(r.error).not.toBeNull()
    expect(sseData(r.bytes.toString('utf8'))).toHaveLength(1 + 5)
  })

  it('stall_rate and garbage_rate', async () => {
    sim.configure({ faults: { stall_rate: 1, stall_ms: 30 } })
    const t0 = performance.now()
    expect((await chat()).status).toBe(200)
    expect(performance.now() - t0).toBeGreaterThanOrEqual(28)
    sim.configure({ faults: { stall_rate: 0, garbage_rate: 1 } })
    const garbage = await chat()
    expect(() => garbage.json()).toThrow()
  })
})

describe('chunk_split_utf8', () => {
  it('splits events inside multi-byte characters without changing the bytes', async () => {
    expect(splitPoint(Buffer.from('data: "é"'))).toBe(Buffer.from('data: "').length + 1)
    sim.configure({ chunk_split_utf8: true })
    const body = JSON.stringify(chatBody({ stream: true }))
    // A raw socket shows the reads as they arrive.
    const reads = await new Promise<Buffer[]>((resolve, reject) => {
      const socket = net.connect(sim.port, '127.0.0.1')
      const got: Buffer[] = []
      socket.on('data', (d: Buffer) => got.push(d))
      socket.on('end', () => resolve(got))
      socket.on('error', reject)
      socket.write(`POST /v1/chat/completions HTTP/1.1\r\nhost: sim\r\nauthorization: Bearer ${KEY}\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
    })
    const endsInsideACharacter = reads.filter((r) => {
      try {
        new TextDecoder('utf-8', { fatal: true }).decode(r)
        return false
      } catch {
        return true
      }
    })
    expect(endsInsideACharacter.length).toBeGreaterThan(0)
    // Reassembled, the stream is intact and the record's hash is what the client got.
    const viaUndici = await chat({ stream: true })
    const data = sseData(viaUndici.text)
    expect(data.at(-1)).toBe('[DONE]')
    expect(data.slice(0, -1).every((d) => typeof JSON.parse(d) === 'object')).toBe(true)
    await sim.waitForRequests(2)
    expect(sim.requests()[1]?.sha256).toBe(sha256(viaUndici.bytes))
  })
})
