import { once } from 'node:events'
import { request as httpRequest, type IncomingMessage } from 'node:http'
import { mkdirSync, mkdtempSync, renameSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ReloadResult } from '../../../src/config/holder.js'
import { startGateway, type Gateway } from '../../../src/main.js'
import { startSimulator, type Simulator } from '../../../src/simulator/index.js'
import { createLogger } from '../../../src/telemetry/logger.js'
import { SluiceProcess } from '../../support/child.js'
import { nextServerRequest } from '../../support/data-plane.js'
import { LogCapture } from '../../support/harness.js'

const config = (simUrl: string, models: string[]) => `server: { port: 0 }
providers:
  sim: { type: openai, base_url: "${simUrl}/v1", keys: [{ id: k1, key: sk-sim-1 }] }
models:
${models.map((m) => `  ${m}: { targets: [{ provider: sim, model: sim-model }] }`).join('\n')}
`

async function modelIds(url: string): Promise<string[]> {
  const res = await request(`${url}/v1/models`)
  return ((await res.body.json()) as { data: { id: string }[] }).data.map((m) => m.id)
}

async function chat(url: string, model: string): Promise<number> {
  const res = await request(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
  })
  await res.body.dump()
  return res.statusCode
}

describe('hot reload', () => {
  let sim: Simulator
  let gw: Gateway
  let file: string
  const logs = new LogCapture()
  beforeAll(async () => {
    sim = await startSimulator()
    file = join(mkdtempSync(join(tmpdir(), 'sluice-reload-')), 'sluice.yaml')
    writeFileSync(file, config(sim.url, ['alpha']))
    gw = await startGateway({ config: { file }, logger: createLogger({ destination: logs }), port: 0, processMetrics: false, database: 'sqlite::memory:' })
  })
  afterAll(async () => {
    await gw.shutdown()
    await sim.close()
  })

  it('applies a good change when the file changes', async () => {
    const reloaded = once(gw.events, 'reload') as Promise<[ReloadResult]>
    writeFileSync(file, config(sim.url, ['alpha', 'beta']))
    const [result] = await reloaded
    expect(result.ok).toBe(true)
    expect(await modelIds(gw.url)).toEqual(['alpha', 'beta'])
    expect(await chat(gw.url, 'beta')).toBe(200)
  })

  it('follows a file replaced by rename, as editors and config tools do', async () => {
    const reloaded = once(gw.events, 'reload') as Promise<[ReloadResult]>
    const temp = `${file}.tmp`
    writeFileSync(temp, config(sim.url, ['alpha', 'beta', 'gamma']))
    renameSync(temp, file)
    const [result] = await reloaded
    expect(result.ok).toBe(true)
    expect(await modelIds(gw.url)).toContain('gamma')
  })

  it('rejects a broken file whole and keeps serving the old config', async () => {
    const generation = gw.runtime().generation
    const reloaded = once(gw.events, 'reload') as Promise<[ReloadResult]>
    writeFileSync(file, config(sim.url, ['alpha']).replace('provider: sim', 'provider: simm'))
    const [result] = await reloaded
    expect(result.ok).toBe(false)
    if (!result.ok) expect(result.error.issues[0]).toMatchObject({ path: 'models.alpha.targets[0].provider', line: 5 })
    expect(gw.runtime().generation).toBe(generation)
    expect(await modelIds(gw.url)).toEqual(['alpha', 'beta', 'gamma'])
    expect(await chat(gw.url, 'gamma')).toBe(200)
    expect(logs.entries().some((l) => l.msg === 'configuration rejected; the previous configuration keeps serving')).toBe(true)
  })

  it('rejects YAML that does not parse', async () => {
    const reloaded = once(gw.events, 'reload') as Promise<[ReloadResult]>
    writeFileSync(file, 'providers: [unclosed\n')
    const [result] = await reloaded
    expect(result.ok).toBe(false)
    expect(await chat(gw.url, 'alpha')).toBe(200)
  })
})

describe('hot reload of a Kubernetes-style ConfigMap mount', () => {
  it('follows the ..data symlink swap', async () => {
    const sim = await startSimulator()
    const dir = mkdtempSync(join(tmpdir(), 'sluice-configmap-'))
    mkdirSync(join(dir, '..v1'))
    writeFileSync(join(dir, '..v1', 'sluice.yaml'), config(sim.url, ['first']))
    symlinkSync('..v1', join(dir, '..data'))
    symlinkSync(join('..data', 'sluice.yaml'), join(dir, 'sluice.yaml'))
    const gw = await startGateway({ config: { file: join(dir, 'sluice.yaml') }, logger: createLogger({ destination: new LogCapture() }), port: 0, processMetrics: false, database: 'sqlite::memory:' })
    try {
      const reloaded = once(gw.events, 'reload') as Promise<[ReloadResult]>
      // What the kubelet does: write the new version beside the old, then swap one symlink.
      mkdirSync(join(dir, '..v2'))
      writeFileSync(join(dir, '..v2', 'sluice.yaml'), config(sim.url, ['first', 'second']))
      symlinkSync('..v2', join(dir, '..data_tmp'))
      renameSync(join(dir, '..data_tmp'), join(dir, '..data'))
      const [result] = await reloaded
      expect(result.ok).toBe(true)
      expect(await modelIds(gw.url)).toEqual(['first', 'second'])
    } finally {
      await gw.shutdown()
      await sim.close()
    }
  })
})

describe('a reload while requests are running', () => {
  it('lets a request admitted under the old config finish on the old upstream pool', async () => {
    const sim = await startSimulator()
    const file = join(mkdtempSync(join(tmpdir(), 'sluice-reload-pool-')), 'sluice.yaml')
    writeFileSync(file, config(sim.url, ['alpha']))
    const gw = await startGateway({ config: { file }, logger: createLogger({ destination: new LogCapture() }), port: 0, watch: false, processMetrics: false, database: 'sqlite::memory:' })
    try {
      const body = JSON.stringify({ model: 'alpha', messages: [{ role: 'user', content: 'hi' }] })
      const admitted = nextServerRequest(gw.port, '/v1/chat/completions', 'start')
      const req = httpRequest(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } })
      const answered = once(req, 'response') as Promise<[IncomingMessage]>
      req.write(body.slice(0, 10))
      // The gateway has the request (it runs on the old config) but not its whole body yet.
      await admitted
      // A change that gives the origin a new pool: the old one must outlive this request.
      writeFileSync(file, config(sim.url, ['alpha']).replace('keys:', 'max_connections: 7, keys:'))
      expect(gw.reload().ok).toBe(true)
      req.end(body.slice(10))
      const [res] = await answered
      res.resume()
      expect(res.statusCode).toBe(200)
    } finally {
      await gw.shutdown()
      await sim.close()
    }
  })
})

describe('reload on SIGHUP', () => {
  it('reloads the file when the process receives SIGHUP', async () => {
    const sim = await startSimulator()
    const dir = mkdtempSync(join(tmpdir(), 'sluice-sighup-'))
    const file = join(dir, 'sluice.yaml')
    writeFileSync(file, config(sim.url, ['one']))
    const proc = SluiceProcess.start(['start', '--config', file, '--no-watch'])
    try {
      const url = await proc.url()
      // With --no-watch only the signal can make the process read the file again.
      writeFileSync(join(dir, 'next.yaml'), config(sim.url, ['one', 'two']))
      renameSync(join(dir, 'next.yaml'), file)
      proc.kill('SIGHUP')
      await proc.waitFor((l) => l.msg === 'configuration reloaded')
      expect(await modelIds(url)).toEqual(['one', 'two'])
    } finally {
      proc.kill('SIGTERM')
      await proc.exited
      await sim.close()
    }
  })
})
