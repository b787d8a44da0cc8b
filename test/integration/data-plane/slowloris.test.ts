import { connect, type Socket } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectErrorBody, send, startWatchedStack, type WatchedStack } from '../../support/data-plane.js'

// 300 connections trickling their headers a byte at a time must not slow anyone else down,
// and each is cut at server.request_timeout with a JSON 408. Bounded: 300 sockets, 200
// requests, about 3 s. The p99 figures are printed for the record; the assertion is loose
// (the machine is shared), the 408s are exact.

const timeoutMs = 3_000
const tricklers = 300
const requests = 200
const concurrency = 10

function percentile(ms: number[], p: number): number {
  const sorted = [...ms].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * p) - 1)] as number
}

describe('data plane: slow-header clients do not delay others', () => {
  let stack: WatchedStack
  beforeAll(async () => {
    stack = await startWatchedStack({ gateway: (simUrl) => ({
      providers: { sim: { type: 'openai', base_url: `${simUrl}/v1`, keys: [{ id: 'k1', key: 'sk-sim-test-1' }] } },
      models: { 'test-model': { targets: [{ provider: 'sim', model: 'sim-model' }] } },
      server: { request_timeout: `${timeoutMs}ms` },
    }) })
  })
  afterAll(() => stack.close())

  async function load(): Promise<number[]> {
    const latencies: number[] = []
    let next = 0
    const worker = async (): Promise<void> => {
      while (next++ < requests) {
        const started = performance.now()
        const res = await send(stack.gw.url, '/v1/chat/completions', { body: { model: 'test-model', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 } })
        latencies.push(performance.now() - started)
        expect(res.status).toBe(200)
      }
    }
    await Promise.all(Array.from({ length: concurrency }, worker))
    return latencies
  }

  it(`${tricklers} trickling connections: others keep their latency, each trickler gets a JSON 408`, async () => {
    await load() // warm-up: connections, JIT
    const alone = await load()

    const answers: Promise<string>[] = []
    const sockets: Socket[] = []
    const timers: NodeJS.Timeout[] = []
    const connected: Promise<void>[] = []
    for (let i = 0; i < tricklers; i++) {
      const socket = connect(stack.gw.port, '127.0.0.1')
      sockets.push(socket)
      connected.push(new Promise((resolve) => socket.once('connect', () => resolve())))
      answers.push(
        new Promise((resolve) => {
          let got = ''
          socket.on('data', (chunk: Buffer) => (got += chunk.toString('latin1')))
          socket.on('close', () => resolve(got))
          socket.on('error', () => undefined)
        }),
      )
      socket.write('POST /v1/chat/completions HTTP/1.1\r\nHost: sluice.test\r\nX-Trickle: ')
      // One byte every 200 ms: never a whole header line, always some traffic.
      const timer = setInterval(() => socket.writable && socket.write('a'), 200)
      timers.push(timer)
    }
    await Promise.all(connected)
    const beside = await load()
    const got = await Promise.all(answers)
    for (const t of timers) clearInterval(t)
    for (const s of sockets) s.destroy()

    const figures = (ms: number[]): string => `p50 ${percentile(ms, 0.5).toFixed(1)} ms, p99 ${percentile(ms, 0.99).toFixed(1)} ms`
    console.log(`${requests} chat requests (concurrency ${concurrency}): alone ${figures(alone)}; beside ${tricklers} trickling connections ${figures(beside)}`)
    for (const answer of got) {
      expect(answer).toMatch(/^HTTP\/1\.1 408 /)
      expect(answer).toMatch(/\r\nx-request-id: [0-9a-f-]{36}\r\n/)
      expectErrorBody(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)), 'request_timeout')
    }
    // Loose on purpose (a shared machine): nobody waited behind the tricklers until they were cut.
    expect(percentile(beside, 0.99)).toBeLessThan(timeoutMs)
  }, 20_000)
})
