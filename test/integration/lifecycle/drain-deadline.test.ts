import { createServer, type Server } from 'node:net'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startSimulator, type Simulator } from '../../../src/simulator/index.js'
import { SluiceProcess } from '../../support/child.js'

// Shutdown answers everyone: a request still waiting for its key at the drain deadline gets 503
// shutting_down with Retry-After and an access-log line before the process exits; a start that
// fails (a port taken) closes everything it opened and exits non-zero at once.

function writeConfig(body: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-drain-'))
  const file = join(dir, 'sluice.yaml')
  writeFileSync(file, body)
  return file
}

const chat = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] })
const post = (url: string, id: string) =>
  request(`${url}/v1/chat/completions`, { method: 'POST', body: chat, headers: { 'content-type': 'application/json', 'x-request-id': id } })

describe('shutdown: the drain deadline and failed starts', () => {
  let sim: Simulator
  beforeAll(async () => {
    sim = await startSimulator()
  })
  afterAll(() => sim.close())

  it('a request queued on an rpm: 1 key at the deadline gets 503 shutting_down, is logged, and the process exits 0', async () => {
    const file = writeConfig(`server: { port: 0, drain_timeout: 1s }
database: "sqlite::memory:"
providers:
  sim: { type: openai, base_url: "${sim.url}/v1", keys: [{ id: k1, key: sk-sim-1, rpm: 1 }] }
models:
  m: { targets: [{ provider: sim, model: sim-model }] }
`)
    const proc = SluiceProcess.start(['start', '--config', file, '--no-watch'])
    const url = await proc.url()
    const first = await post(url, 'served-1')
    expect(first.statusCode).toBe(200)
    await first.body.dump()
    // The key's next slot is a minute away: this one waits in the queue.
    const queued = post(url, 'queued-1')
    const status = await waitQueued(url)
    expect(status).toBe(1)
    proc.kill('SIGTERM')
    const res = await queued
    expect(res.statusCode).toBe(503)
    expect(res.headers['retry-after']).toBe('1')
    expect(((await res.body.json()) as { error: { code: string } }).error.code).toBe('shutting_down')
    expect(await proc.exited).toEqual({ code: 0, signal: null })
    const log = proc.lines.find((l) => l.msg === 'request' && l.requestId === 'queued-1')
    expect(log).toMatchObject({ status: 503, error: 'shutting_down', attempts: 0 })
    expect(proc.lines.find((l) => l.msg === 'stopped')?.clean).toBe(false)
  })

  it('with metrics_port taken, start says why and exits 1 within a second, holding nothing open', async () => {
    const blocker: Server = createServer()
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
    const taken = (blocker.address() as { port: number }).port
    try {
      const file = writeConfig(`server: { port: 0, metrics_port: ${taken} }
database: "sqlite::memory:"
providers:
  sim: { type: openai, base_url: "${sim.url}/v1", keys: [{ id: k1, key: sk-sim-1 }], failover: { enabled: true }, health_check: { model: sim-model, interval: 30s } }
models:
  m: { targets: [{ provider: sim, model: sim-model }] }
`)
      const started = performance.now()
      const proc = SluiceProcess.start(['start', '--config', file, '--no-watch'])
      const exit = await proc.exited
      expect(exit.code).toBe(1)
      // Everything it opened (database, writers, prober, scheduler, the main listener) was
      // closed: nothing kept the process alive after the error.
      expect(performance.now() - started).toBeLessThan(5_000)
      expect(proc.stderr.join('\n')).toMatch(/cannot listen \(EADDRINUSE\)/)
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()))
    }
  })
})

/** Asks /status until the model's queue holds a request: each ask is a round trip, never a sleep. */
async function waitQueued(url: string): Promise<number> {
  for (let i = 0; i < 500; i++) {
    const res = await request(`${url}/status`)
    const body = (await res.body.json()) as { queues?: Record<string, { waiting: number }> }
    const waiting = body.queues?.m?.waiting ?? 0
    if (waiting > 0) return waiting
  }
  return 0
}
