import { request } from 'undici'
import { describe, expect, it } from 'vitest'
import { demoSimulatorConfig, parseSimulatorConfig, runSimulateCommand, startSimulator } from '../../../src/simulator/index.js'
import { compileConfig, mergeConfig } from '../../../src/simulator/config/compile.js'
import { validateConfigPatch } from '../../../src/simulator/config/parse.js'

const FULL = `
latency: { ttft_ms: 5, tokens_per_second: 100 }
completion_tokens: 8
chunk_split_utf8: true
keys:
  sk-sim-1:
    rpm: 60
    tpm: 100000
    algorithm: sliding-log
    max_concurrent: 4
    headers: anthropic
    retry_after: false
    revoked: false
    quota_exhausted: false
accept_unknown_keys: false
faults:
  error_rate: 0.1
  error_status: 503
  reset_before_headers_rate: 0
  reset_mid_stream_rate: 0
  stall_rate: 0
  stall_ms: 0
  garbage_rate: 0
seed: 9
`

describe('simulator config', () => {
  it('parses the documented YAML and compiles defaults', () => {
    const runtime = compileConfig(parseSimulatorConfig(FULL))
    expect(runtime).toMatchObject({ ttftMs: 5, chunkIntervalMs: 10, completionTokens: 8, chunkSplitUtf8: true, acceptUnknownKeys: false, seed: 9 })
    expect(runtime.keys.get('sk-sim-1')).toMatchObject({ id: 'sk-sim-1', rpm: 60, tpm: 100000, algorithm: 'sliding-log', maxConcurrent: 4, headers: 'anthropic', retryAfter: false })
    expect(runtime.faults).toMatchObject({ errorRate: 0.1, errorStatus: 503 })
    expect(compileConfig({})).toMatchObject({ ttftMs: 0, chunkIntervalMs: 0, completionTokens: 16, acceptUnknownKeys: true, seed: 1, anyFault: false })
  })

  it('names the path and line of each problem', () => {
    expect(() => parseSimulatorConfig('keys:\n  sk-a:\n    rpm: fast\n')).toThrow(/keys\.sk-a\.rpm \(line 3\)/)
    expect(() => parseSimulatorConfig('faults:\n  eror_rate: 0.1\n')).toThrow(/faults.*eror_rate/)
    expect(() => parseSimulatorConfig('faults: { error_rate: 2 }')).toThrow(/faults\.error_rate/)
    expect(() => parseSimulatorConfig('keys: [')).toThrow(/simulator config/)
  })

  it('merges patches: nested fields one by one, null removes a key or a limit', () => {
    const base = validateConfigPatch({ latency: { ttft_ms: 5 }, keys: { a: { rpm: 1, tpm: 2 }, b: { rpm: 3 } } })
    const merged = mergeConfig(base, { latency: { tokens_per_second: 10 }, keys: { a: { tpm: null }, b: null } })
    expect(merged).toEqual({ latency: { ttft_ms: 5, tokens_per_second: 10 }, keys: { a: { rpm: 1, tpm: null } } })
  })

  it('refuses two keys with the same id', () => {
    expect(() => compileConfig({ keys: { a: { id: 'x' }, b: { id: 'x' } } })).toThrow(/id "x"/)
  })

  it('ships a valid demo config', () => {
    expect(validateConfigPatch(demoSimulatorConfig)).toEqual(demoSimulatorConfig)
    expect(Object.isFrozen(demoSimulatorConfig.keys)).toBe(true)
  })

  it('listens on 127.0.0.1 only', async () => {
    await expect(startSimulator({ host: '0.0.0.0' })).rejects.toThrow(/127\.0\.0\.1/)
    const sim = await startSimulator()
    expect(sim.url).toBe(`http://127.0.0.1:${sim.port}`)
    await sim.close()
  })
})

describe('runSimulateCommand', () => {
  it('prints one JSON line with the URL and serves until stopped', async () => {
    const controller = new AbortController()
    let announce: (line: string) => void = () => undefined
    const announced = new Promise<string>((resolve) => { announce = resolve })
    const running = runSimulateCommand(['--port=0'], { signal: controller.signal, out: { write: (line: string) => announce(line) } })
    const log = JSON.parse(await announced) as { msg: string, url: string }
    expect(log.msg).toBe('simulator listening')
    expect(log.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    const models = await request(`${log.url}/v1/models`, { headers: { authorization: 'Bearer sk-sim-demo-1' } })
    await models.body.text()
    expect(models.statusCode).toBe(200)
    controller.abort()
    await running
  })

  it('rejects unknown options', async () => {
    await expect(runSimulateCommand(['--prot', '1'])).rejects.toThrow(/unknown option/)
  })
})
