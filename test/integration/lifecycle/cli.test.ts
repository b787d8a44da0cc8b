import { execFile } from 'node:child_process'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { request } from 'undici'
import { describe, expect, it } from 'vitest'
import { SluiceProcess } from '../../support/child.js'

const run = promisify(execFile)
const cli = resolve(import.meta.dirname, '../../../dist/cli.js')
const root = resolve(import.meta.dirname, '../../..')

async function sluice(args: string[], env: NodeJS.ProcessEnv = {}, cwd?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [cli, ...args], { env: { ...process.env, ...env }, ...(cwd === undefined ? {} : { cwd }) })
    return { code: 0, stdout, stderr }
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string }
    return { code: e.code, stdout: e.stdout, stderr: e.stderr }
  }
}

function tempFile(name: string, text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'sluice-cli-')), name)
  writeFileSync(file, text)
  return file
}

describe('sluice check-config', () => {
  it('accepts the example configuration shipped in the repository', async () => {
    const result = await sluice(['check-config', join(root, 'sluice.example.yaml')], { OPENAI_API_KEY: 'sk-x', NVIDIA_KEY_1: 'n1', NVIDIA_KEY_2: 'n2', SLUICE_ADMIN_KEY: 'admin-key-for-the-example-check' })
    expect(result.stderr).toBe('')
    expect(result.code).toBe(0)
  })

  it('exits 1 and names the path and line of every problem', async () => {
    const file = tempFile(
      'bad.yaml',
      `providers:
  nvidia:
    type: openai
    keys: [{ id: nv-1, key: "\${SLUICE_TEST_UNSET_VAR}" }]
models:
  llama:
    targets:
      - { provider: nvdia }
`,
    )
    const result = await sluice(['check-config', file], { SLUICE_TEST_UNSET_VAR: '' })
    expect(result.code).toBe(1)
    expect(result.stderr).toContain(`${file}:4 providers.nvidia.keys[0].key: environment variable SLUICE_TEST_UNSET_VAR is not set`)
  })

  it('reports every problem in one run: unset variables, field errors and unknown references together', async () => {
    const file = tempFile(
      'bad.yaml',
      `providers:
  nvidia:
    type: openai
    keys:
      - { id: nv-1 }
      - { id: nv-2, key: "" }
      - { id: nv-3, key: "\${SLUICE_TEST_UNSET_VAR}" }
models:
  llama:
    targets:
      - { provider: nvdia }
    strategy: fastest
`,
    )
    const result = await sluice(['check-config', file], { SLUICE_TEST_UNSET_VAR: '' })
    expect(result.code).toBe(1)
    expect(result.stderr.trim().split('\n')).toEqual([
      `${file}: invalid configuration`,
      `  ${file}:5 providers.nvidia.keys[0].key: the key is missing (add key: "\${ENV_VAR}" holding the upstream credential)`,
      `  ${file}:6 providers.nvidia.keys[1].key: the key is empty (is its \${VAR} set?)`,
      `  ${file}:7 providers.nvidia.keys[2].key: environment variable SLUICE_TEST_UNSET_VAR is not set`,
      `  ${file}:11 models.llama.targets[0].provider: unknown provider "nvdia"`,
      `  ${file}:12 models.llama.strategy: must be one of round-robin, weighted, least-busy, p2c, latency, random, hash, metrics (got "fastest")`,
    ])
  })

  it('reports schema problems with their line once the environment is complete', async () => {
    const file = tempFile('bad.yaml', 'providers:\n  nvidia:\n    type: openai\n    keys: [{ id: nv-1, key: k }]\nmodels:\n  llama:\n    targets:\n      - { provider: nvdia }\n')
    const result = await sluice(['check-config', file])
    expect(result.code).toBe(1)
    expect(result.stderr).toContain(`${file}:8 models.llama.targets[0].provider: unknown provider "nvdia"`)
  })

  it('prints a JSON Schema that matches docs/sluice.schema.json, and a reference matching docs/config.md', async () => {
    const schema = await sluice(['schema'])
    expect(schema.code).toBe(0)
    expect(JSON.parse(schema.stdout)).toEqual(JSON.parse(readFileSync(join(root, 'docs/sluice.schema.json'), 'utf8')))
    const markdown = await sluice(['schema', '--markdown'])
    expect(markdown.stdout).toBe(readFileSync(join(root, 'docs/config.md'), 'utf8'))
  })
})

describe('sluice start without a config file', () => {
  it('runs the demo against the built-in simulator and says so in its first log line', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'sluice-demo-'))
    const proc = SluiceProcess.start(['start', '--port', '0'], { cwd, env: { SLUICE_CONFIG: '' } })
    try {
      const url = await proc.url()
      expect(String(proc.lines[0]?.msg)).toMatch(/^No sluice\.yaml found: running the DEMO configuration against the built-in simulator/)
      const res = await request(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'demo-chat', messages: [{ role: 'user', content: 'hi' }] }),
      })
      expect(res.statusCode).toBe(200)
      await res.body.dump()

      // The demo serves its own models only; docs/errors.md shows this very answer.
      const errorsDoc = readFileSync(join(root, 'docs/errors.md'), 'utf8')
      const example = /-d '(\{"model":"gpt-5".*\})'\n```\n\nanswers 404 with\n\n```json\n(.*)\n```/.exec(errorsDoc)
      expect(example).not.toBeNull()
      const unknown = await request(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: example![1] })
      expect(unknown.statusCode).toBe(404)
      expect(await unknown.body.json()).toEqual(JSON.parse(example![2]!))
      const models = (await (await request(`${url}/v1/models`)).body.json()) as { data: { id: string }[] }
      expect(models.data.map((m) => m.id).sort()).toEqual(['demo-chat', 'demo-claude', 'demo-embed'])
    } finally {
      proc.kill('SIGTERM')
      expect((await proc.exited).code).toBe(0)
    }
  })
})

describe('sluice start on a port that is taken', () => {
  it('exits 1 with a message that says what to change', async () => {
    const blocker = createServer()
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
    const port = (blocker.address() as AddressInfo).port
    try {
      const file = tempFile('sluice.yaml', `server: { port: ${port} }\nproviders:\n  sim: { type: openai, base_url: "http://127.0.0.1:9/v1", keys: [{ id: k1, key: sk-x }] }\n`)
      const result = await sluice(['start', '--config', file])
      expect(result.code).toBe(1)
      expect(result.stderr).toContain('cannot listen (EADDRINUSE)')
      expect(result.stderr).toContain('--port')
    } finally {
      blocker.close()
    }
  })
})

describe('health, status and metrics', () => {
  it('serves liveness, readiness, status, and metrics on the main and the metrics port', async () => {
    const file = tempFile(
      'sluice.yaml',
      `server: { port: 0, metrics_port: 0 }
providers:
  sim: { type: openai, base_url: "http://127.0.0.1:9/v1", keys: [{ id: k1, key: sk-secret-value-123456 }] }
models:
  m: { targets: [{ provider: sim }] }
`,
    )
    const proc = SluiceProcess.start(['start', '--config', file])
    try {
      const url = await proc.url()
      const listening = await proc.waitFor((l) => typeof l.msg === 'string' && l.msg.startsWith('sluice listening'))
      expect((await request(`${url}/health`)).statusCode).toBe(200)
      const ready = await request(`${url}/health/ready`)
      expect(ready.statusCode).toBe(200)
      await ready.body.dump()
      // Port 9 (discard) refuses connections: the upstream is then known unreachable.
      const failed = await request(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }),
      })
      expect(failed.statusCode).toBe(502)
      await failed.body.dump()
      const notReady = await request(`${url}/health/ready`)
      expect(notReady.statusCode).toBe(503)
      expect(((await notReady.body.json()) as { problems: string[] }).problems).toContain('no upstream was reachable when last tried')

      const status = (await (await request(`${url}/status`)).body.json()) as { requests: { in_flight: number; total: number }; upstreams: Record<string, { reachable: boolean }> }
      expect(status.requests).toMatchObject({ in_flight: 0, total: 1 })
      expect(status.upstreams.sim?.reachable).toBe(false)

      const metricsPort = listening.metricsPort as number
      for (const base of [url, `http://127.0.0.1:${metricsPort}`]) {
        const text = await (await request(`${base}/metrics`)).body.text()
        expect(text).toContain('sluice_requests_total{model="m",provider="sim",key="k1",status="502",outcome="upstream_error"} 1')
        expect(text).toContain('sluice_upstream_errors_total{provider="sim",key="k1",status="connect"} 1')
        expect(text).not.toContain('sk-secret-value')
      }
    } finally {
      proc.kill('SIGTERM')
      await proc.exited
    }
  })
})

describe('sluice keys', () => {
  it('creates a consumer and a key shown once, lists it by prefix only, and revokes it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-keys-'))
    const config = join(dir, 'sluice.yaml')
    writeFileSync(config, `providers: {}\ndatabase: sqlite:${join(dir, 'k.db')}\ntiers:\n  basic: { rpm: 5 }\n`)
    const created = await sluice(['keys', 'create', '--consumer', 'alice', '--tier', 'basic', '--name', 'laptop', '--config', config])
    expect(created.code).toBe(0)
    const secret = created.stdout.trim()
    expect(secret).toMatch(/^sk-sluice-[A-Za-z0-9_-]{43}$/)
    expect(created.stderr).toContain('created consumer alice in tier basic')

    expect((await sluice(['keys', 'create', '--consumer', 'bob', '--tier', 'gold', '--config', config])).code).toBe(2)
    const listed = await sluice(['keys', 'list', '--json', '--config', config])
    expect(listed.code).toBe(0)
    expect(listed.stdout).not.toContain(secret)
    const keys = JSON.parse(listed.stdout) as { prefix: string; consumer: string; name: string; revoked_at: string | null }[]
    expect(keys).toEqual([expect.objectContaining({ prefix: secret.slice(0, 14), consumer: 'alice', name: 'laptop', revoked_at: null })])

    const revoked = await sluice(['keys', 'revoke', secret.slice(0, 14), '--config', config])
    expect(revoked.code).toBe(0)
    expect(revoked.stdout).toContain(`revoked ${secret.slice(0, 14)}`)
    expect((await sluice(['keys', 'revoke', secret.slice(0, 14), '--config', config])).code).toBe(1)
    const table = await sluice(['keys', 'list', '--config', config])
    expect(table.stdout).toMatch(/alice\tlaptop\t.*\trevoked/)
  })

  it('reads only database and tiers: no provider secret needs to be set, and other sections may be wrong', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'sluice-keys-'))
    const unset = { OPENAI_API_KEY: '', NVIDIA_KEY_1: '', NVIDIA_KEY_2: '', SLUICE_ADMIN_KEY: '' }
    // The shipped example names four secrets; its database is ./data/sluice.db under cwd.
    const example = join(root, 'sluice.example.yaml')
    const created = await sluice(['keys', 'create', '--consumer', 'carol', '--tier', 'basic', '--config', example], unset, cwd)
    expect(created.stderr).toContain('created consumer carol in tier basic')
    expect(created.code).toBe(0)
    const listed = await sluice(['keys', 'list', '--config', example], unset, cwd)
    expect(listed.code).toBe(0)
    expect(listed.stdout).toMatch(/\tcarol\t/)
    expect((await sluice(['keys', 'create', '--consumer', 'dave', '--tier', 'gold', '--config', example], unset, cwd)).code).toBe(2)

    const broken = join(cwd, 'broken.yaml')
    writeFileSync(broken, `providers:\n  p: { type: nope, keys: "\${SLUICE_TEST_UNSET}" }\nmodels:\n  m: { targets: [{ provider: ghost }] }\nserver: { port: http }\ndatabase: sqlite:./data/sluice.db\ntiers:\n  basic: { rpm: 5 }\n`)
    const fromBroken = await sluice(['keys', 'list', '--config', broken], { SLUICE_TEST_UNSET: '' }, cwd)
    expect(fromBroken.stderr).toBe('')
    expect(fromBroken.stdout).toMatch(/\tcarol\t/)
  })
})
