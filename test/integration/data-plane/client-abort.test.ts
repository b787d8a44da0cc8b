import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http'
import { connect } from 'node:net'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { gatewayStatus, nextServerRequest, startWatchedStack, type WatchedStack } from '../../support/data-plane.js'

// A client that goes away must cost the upstream nothing more: sluice aborts the upstream
// request at once, logs 499 client_abort, and keeps nothing in flight.

const chatBody = JSON.stringify({ model: 'test-model', messages: [{ role: 'user', content: 'a long story please' }], stream: true })

function openStream(stack: WatchedStack, requestId: string): { req: ClientRequest; response: Promise<IncomingMessage> } {
  const req = httpRequest(`${stack.gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(chatBody), 'x-request-id': requestId },
  })
  // The destroy() below is ours; its error is expected.
  req.on('error', () => undefined)
  const response = new Promise<IncomingMessage>((resolve) => req.once('response', resolve))
  req.end(chatBody)
  return { req, response }
}

/** Resolves with the chunks read once `n` body chunks arrived. */
function readChunks(res: IncomingMessage, n: number): Promise<Buffer[]> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk)
      if (chunks.length < n) return
      res.off('data', onData)
      res.pause()
      resolve(chunks)
    }
    res.on('data', onData)
  })
}

describe('data plane: client abort', () => {
  let stack: WatchedStack
  beforeAll(async () => {
    stack = await startWatchedStack()
  })
  afterAll(() => stack.close())
  beforeEach(() => stack.sim.reset())

  async function expectAbortSeen(requestId: string, abortedAt: number): Promise<void> {
    const aborted = stack.sim.stats().totals.aborted
    await stack.sim.waitForRequests(1)
    const noticedMs = performance.now() - abortedAt
    expect(noticedMs).toBeLessThan(1000)
    const [record] = stack.sim.requests()
    expect(record?.aborted).toBe(true)
    expect(stack.sim.stats().totals.aborted).toBe(aborted + 1)
    expect(stack.sim.stats().totals.in_flight).toBe(0)

    const log = await stack.logs.waitForAccessLog((records) => records.some((r) => r.requestId === requestId))
    expect(log.find((r) => r.requestId === requestId)).toMatchObject({ status: 499, outcome: 'client_abort' })
    const status = await gatewayStatus(stack.gw.url)
    expect(status.requests.in_flight).toBe(0)
    expect(status.requests.by_outcome.client_abort).toBeGreaterThanOrEqual(1)
  }

  it('in the middle of a stream: the upstream request is aborted within 1 s, 499 is logged', async () => {
    stack.sim.script([{ kind: 'slow_chunks', interval_ms: 50, chunks: 400 }])
    const { req, response } = openStream(stack, 'abort-mid-stream')
    const res = await response
    expect(res.statusCode).toBe(200)
    const chunks = await readChunks(res, 3)
    expect(Buffer.concat(chunks).toString('utf8')).toContain('data: ')
    // The slow stream would run for 20 s; nothing has finished upstream yet.
    expect(stack.sim.requests()).toHaveLength(0)

    const abortedAt = performance.now()
    req.destroy()
    await expectAbortSeen('abort-mid-stream', abortedAt)
    const [record] = stack.sim.requests()
    expect(record?.status).toBe(200)
    expect(record?.bytes_sent).toBeLessThan(400 * 50)
  })

  it('before the first byte: a stalled upstream request is aborted within 1 s, 499 is logged', async () => {
    stack.sim.script([{ kind: 'stall_before_headers', ms: 30_000 }])
    const upstreamHasIt = nextServerRequest(stack.sim.port, '/v1/chat/completions')
    const { req, response } = openStream(stack, 'abort-before-headers')
    let answered = false
    void response.then(() => (answered = true))
    await upstreamHasIt

    const abortedAt = performance.now()
    req.destroy()
    await expectAbortSeen('abort-before-headers', abortedAt)
    expect(answered).toBe(false)
    const [record] = stack.sim.requests()
    expect(record).toMatchObject({ status: 0, bytes_sent: 0 })
  })

  it('while still sending its body: 499 is logged, nothing goes upstream, nothing stays in flight', async () => {
    const gatewayHasIt = nextServerRequest(stack.gw.port, '/v1/chat/completions', 'start')
    const socket = connect(stack.gw.port, '127.0.0.1')
    socket.on('error', () => undefined)
    socket.write('POST /v1/chat/completions HTTP/1.1\r\nHost: sluice.test\r\nContent-Type: application/json\r\nX-Request-Id: abort-upload\r\nContent-Length: 4000\r\n\r\n{"model":"test-model",')
    await gatewayHasIt
    socket.destroy()
    const log = await stack.logs.waitForAccessLog((records) => records.some((r) => r.requestId === 'abort-upload'))
    expect(log.find((r) => r.requestId === 'abort-upload')).toMatchObject({ status: 499, outcome: 'client_abort', provider: null })
    expect(stack.sim.stats().totals.requests).toBe(0)
    expect((await gatewayStatus(stack.gw.url)).requests.in_flight).toBe(0)
  })
})
