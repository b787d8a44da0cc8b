import { request } from 'undici'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { Simulator } from '../../../src/simulator/index.js'
import { bearer, chatBody, sha256, start } from './helpers.js'

let sim: Simulator
// Paced at 50 tokens/s, a 500-token answer would take 10 s: every test ends it long before.
beforeAll(async () => { sim = await start({ latency: { tokens_per_second: 50 }, keys: { 'sk-abort': { id: 'abort-key' } } }) })
beforeEach(() => sim.reset())
afterAll(() => sim.close())

const activeTimers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length

describe('client aborts', () => {
  it('a client leaving mid-stream is counted as aborted and generation stops at once', async () => {
    const controller = new AbortController()
    const res = await request(`${sim.url}/v1/chat/completions`, {
      method: 'POST', headers: bearer('sk-abort'), body: JSON.stringify(chatBody({ stream: true, max_tokens: 500 })), signal: controller.signal,
    })
    const received: Buffer[] = []
    const iterator = res.body[Symbol.asyncIterator]()
    const first = await iterator.next()
    received.push(first.value as Buffer)
    // Between two paced chunks the simulator holds a timer.
    const timersWhileStreaming = activeTimers()
    controller.abort()
    await expect(res.body.text()).rejects.toThrow()

    await sim.waitForRequests(1)
    const [record] = sim.requests()
    expect(record).toMatchObject({ key_id: 'abort-key', status: 200, aborted: true })
    // It stopped: far fewer bytes than 500 chunks, and what it wrote starts with what we read.
    expect(record?.bytes_sent).toBeLessThan(500 * 100)
    expect(record?.bytes_sent).toBeGreaterThanOrEqual(received[0]?.length ?? 0)
    expect(sim.stats().keys['abort-key']).toMatchObject({ requests: 1, aborted: 1, ok: 0, errors: 0, in_flight: 0, max_concurrency_seen: 1 })
    // The pacing timer was cleared with the abort, not left to fire.
    expect(activeTimers()).toBeLessThan(timersWhileStreaming)
  })

  it('a client giving up during a stall before headers (its header timeout) is counted as aborted', async () => {
    sim.script([{ kind: 'stall_before_headers', ms: 60_000 }])
    const pending = request(`${sim.url}/v1/chat/completions`, {
      method: 'POST', headers: bearer('sk-abort'), body: JSON.stringify(chatBody()), headersTimeout: 100,
    })
    await expect(pending).rejects.toMatchObject({ code: 'UND_ERR_HEADERS_TIMEOUT' })
    await sim.waitForRequests(1)
    expect(sim.requests()[0]).toMatchObject({ status: 0, aborted: true, bytes_sent: 0 })
    expect(sim.stats().totals).toMatchObject({ aborted: 1, in_flight: 0, max_concurrency_seen: 1 })
  })

  it('a complete response is not aborted and its hash matches', async () => {
    const res = await request(`${sim.url}/v1/chat/completions`, { method: 'POST', headers: bearer('sk-abort'), body: JSON.stringify(chatBody({ stream: true, max_tokens: 3 })) })
    const bytes = Buffer.from(await res.body.arrayBuffer())
    await sim.waitForRequests(1)
    expect(sim.requests()[0]).toMatchObject({ aborted: false, bytes_sent: bytes.length, sha256: sha256(bytes) })
    expect(sim.stats().totals).toMatchObject({ ok: 1, aborted: 0 })
  })

  it('waitForRequests resolves for requests finished before and after the call', async () => {
    const waiting = sim.waitForRequests(2)
    await request(`${sim.url}/v1/models`, { headers: bearer('sk-abort') }).then((r) => r.body.text())
    await request(`${sim.url}/v1/models`, { headers: bearer('sk-abort') }).then((r) => r.body.text())
    await waiting
    await sim.waitForRequests(1)
    expect(sim.requests()).toHaveLength(2)
  })
})
