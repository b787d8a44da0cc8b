import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startSimulator, type Simulator } from '../../../src/simulator/index.js'
import { SluiceProcess } from '../../support/child.js'

function writeConfig(simUrl: string, extra = ''): string {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-shutdown-'))
  const file = join(dir, 'sluice.yaml')
  writeFileSync(
    file,
    `server: { port: 0, drain_timeout: 10s }
providers:
  sim: { type: openai, base_url: "${simUrl}/v1", keys: [{ id: k1, key: sk-sim-1 }] }
models:
  m: { targets: [{ provider: sim, model: sim-model }] }
${extra}`,
  )
  return file
}

const chat = (stream: boolean) => JSON.stringify({ model: 'm', stream, messages: [{ role: 'user', content: 'hi' }] })

describe('graceful shutdown on SIGTERM', () => {
  let sim: Simulator
  beforeAll(async () => {
    sim = await startSimulator()
  })
  afterAll(() => sim.close())

  it('lets in-flight streams finish, refuses new requests with 503 and exits 0', async () => {
    const proc = SluiceProcess.start(['start', '--config', writeConfig(sim.url)])
    const url = await proc.url()
    sim.script([
      { kind: 'slow_chunks', interval_ms: 40, chunks: 15 },
      { kind: 'slow_chunks', interval_ms: 40, chunks: 15 },
    ])
    const streams = [0, 1].map(() => request(`${url}/v1/chat/completions`, { method: 'POST', body: chat(true), headers: { 'content-type': 'application/json' } }))
    const responses = await Promise.all(streams)
    const bodies = responses.map(async (r) => {
      let text = ''
      for await (const chunk of r.body) text += chunk.toString()
      return text
    })
    // Both streams have started: now ask the process to stop.
    proc.kill('SIGTERM')
    await proc.waitFor((l) => l.msg === 'draining')

    const refused = await request(`${url}/v1/chat/completions`, { method: 'POST', body: chat(false), headers: { 'content-type': 'application/json' } })
    expect(refused.statusCode).toBe(503)
    expect(refused.headers['retry-after']).toBe('1')
    expect(((await refused.body.json()) as { error: { code: string } }).error.code).toBe('shutting_down')
    const ready = await request(`${url}/health/ready`)
    expect(ready.statusCode).toBe(503)
    await ready.body.dump()

    for (const text of await Promise.all(bodies)) {
      expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true)
      expect(text).not.toContain('"error"')
    }
    expect(await proc.exited).toEqual({ code: 0, signal: null })
    expect(proc.lines.find((l) => l.msg === 'stopped')?.clean, JSON.stringify(proc.lines.map((l) => l.msg)) + proc.stderr.join('\n')).toBe(true)
  })

  it('exits at once on a second signal', async () => {
    const proc = SluiceProcess.start(['start', '--config', writeConfig(sim.url)])
    const url = await proc.url()
    sim.script([{ kind: 'slow_chunks', interval_ms: 5_000, chunks: 10 }])
    // Headers have arrived, so the stream is in flight and would hold the drain for its 10 s deadline.
    const stream = await request(`${url}/v1/chat/completions`, { method: 'POST', body: chat(true), headers: { 'content-type': 'application/json' } })
    const consumed = stream.body.dump().catch((e: Error) => e)
    proc.kill('SIGTERM')
    await proc.waitFor((l) => l.msg === 'draining')
    proc.kill('SIGTERM')
    const exit = await proc.exited
    expect(exit.code).toBe(1)
    await consumed
  })
})
