import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Gateway } from '../../../src/main.js'
import { startSimulator, type Simulator } from '../../../src/simulator/index.js'
import { leakNeedles, LeakScan } from '../../support/consumers.js'
import type { Reply } from '../../support/data-plane.js'
import type { LogCapture } from '../../support/harness.js'
import { chat } from '../../support/schedule.js'
import { adminClient, adminKey, expectError, okJson, startAdminGateway } from './support.js'

// The running configuration as the admin API shows it, and reloads. The view is the compiled
// runtime, so it says what the gateway is doing, not what the file says now; no secret appears
// in it in any form. A reload that fails answers 400 with where the file is wrong, and the
// previous configuration keeps serving.

const readOnlyKey = 'ro-7c2f9e1b4a6d5830e1f2'
const providerKeys = ['sk-cfgview-alpha-7d1e0a9b3c5f82e4', 'sk-cfgview-beta-4f6a2c8e0b1d93a7']
/** A key only the broken file holds: the refusal must not quote it either. */
const brokenFileKey = 'sk-cfgview-broken-9e3b7c1a5d2f06b8'
const dbPassword = 'pg-canary-pass-61f0d3a9c7'

function yamlFile(simUrl: string, opts: { tiers: Record<string, string>; broken?: boolean }): string {
  const tiers = Object.entries(opts.tiers).map(([name, body]) => `  ${name}: ${body}`).join('\n')
  return `# written by config-api.test.ts
database: postgres://sluice:${dbPassword}@127.0.0.1:5432/sluice_view
admin:
  keys: ["${adminKey}"]
  read_only_keys: ["${readOnlyKey}"]
providers:
  sim:
    type: openai
    base_url: ${simUrl}/v1
    keys:
      - { id: alpha, key: "${providerKeys[0]}", rpm: 600 }
      - { id: beta, key: "${providerKeys[1]}", max_concurrent: 4 }
${opts.broken ? `  spare:\n    type: openai\n    base_url: ${simUrl}/v1\n    keys: [{ id: spare, key: "${brokenFileKey}" }]\n` : ''}models:
  test-model:
    targets: [{ provider: sim, model: sim-model }]
    aliases: [tm]
    strategy: least-busy
${opts.broken ? '  broken-model:\n    targets: [{ provider: nvdia, model: x }]\n' : ''}tiers:
${tiers}
pricing:
  sim-model: { input: 0.15, output: 0.6 }
`
}

describe('admin API: the running configuration, tiers and reload', () => {
  let sim: Simulator
  let gw: Gateway
  let logs: LogCapture
  let dir: string
  let file: string
  const replies: Reply[] = []
  const admin = adminClient(() => gw.url, replies)
  const asReader = { authorization: `Bearer ${readOnlyKey}` }

  beforeAll(async () => {
    sim = await startSimulator({ config: {} })
    dir = mkdtempSync(join(tmpdir(), 'sluice-admin-config-'))
    file = join(dir, 'sluice.yaml')
    writeFileSync(file, yamlFile(sim.url, { tiers: { basic: '{ rpm: 60, models: [test-model] }' } }))
    // The file names a Postgres database (for the view to mask its password); the test runs on SQLite.
    ;({ gw, logs } = await startAdminGateway({ file }, 'sqlite::memory:'))
  })
  afterAll(async () => {
    await gw?.shutdown()
    await sim?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('GET config shows the running configuration with every secret masked whole', async () => {
    const view = okJson<Record<string, unknown>>(await admin('/api/admin/config', asReader))
    expect(view).toMatchObject({
      generation: 1,
      source: file,
      database: 'postgres://sluice:***@127.0.0.1:5432/sluice_view',
      admin: { keys: ['***'], read_only_keys: ['***'] },
      auth: null,
      providers: {
        sim: {
          type: 'openai',
          keys: [
            { id: 'alpha', key: '***', rpm: 600, max_concurrent: null },
            { id: 'beta', key: '***', rpm: null, max_concurrent: 4 },
          ],
        },
      },
      models: { 'test-model': { targets: [{ provider: 'sim', model: 'sim-model', weight: 1, group: null, keys: ['alpha', 'beta'] }], strategy: 'least-busy', aliases: ['tm'] } },
      tiers: { basic: { rpm: 60, models: ['test-model'] } },
      pricing: { 'sim-model': { input: 0.15, output: 0.6 } },
    })
    expect(Object.keys(view.models as object)).toEqual(['test-model'])
  })

  it('GET tiers lists the running tiers', async () => {
    const tiers = okJson<{ generation: number; data: { name: string }[] }>(await admin('/api/admin/tiers', asReader))
    expect(tiers.generation).toBe(1)
    expect(tiers.data).toEqual([{ name: 'basic', rpm: 60, tpm: null, budget_usd: null, budget_period: 'month', models: ['test-model'], priority: { default: 'normal', max: 'urgent' }, weight: 1 }])
  })

  it('POST reload applies a changed file: the new tier is there at once, for consumers too', async () => {
    writeFileSync(file, yamlFile(sim.url, { tiers: { basic: '{ rpm: 60, models: [test-model] }', premium: '{ tpm: 100000 }' } }))
    expect(okJson(await admin('/api/admin/reload', { method: 'POST' }))).toEqual({ ok: true, generation: 2 })
    expect(okJson<{ data: { name: string }[] }>(await admin('/api/admin/tiers')).data.map((t) => t.name)).toEqual(['basic', 'premium'])
    expect(okJson<{ generation: number }>(await admin('/api/admin/config')).generation).toBe(2)
    const consumer = await admin('/api/admin/consumers', { method: 'POST', body: { name: 'after-reload', tier: 'premium' } })
    expect(consumer.status, consumer.text).toBe(201)
  })

  it('POST reload of a broken file: 400 invalid_config naming the line and path, and the previous configuration keeps serving', async () => {
    writeFileSync(file, yamlFile(sim.url, { tiers: { basic: '{ rpm: 60, models: [test-model] }', gold: '{ rpm: -5 }' }, broken: true }))
    const error = expectError(await admin('/api/admin/reload', { method: 'POST' }), 400, 'invalid_config')
    expect(error.message).toContain(file)
    expect(error.message).toMatch(/line \d+: models\.broken-model\.targets\[0\]\.provider: unknown provider "nvdia"/)
    expect(error.message).toMatch(/line \d+: tiers\.gold\.rpm: /)
    expect(error.message).toContain('previous one keeps serving')

    const view = okJson<{ generation: number; tiers: Record<string, unknown>; providers: Record<string, unknown> }>(await admin('/api/admin/config'))
    expect(view.generation).toBe(2)
    expect(Object.keys(view.tiers)).toEqual(['basic', 'premium'])
    expect(Object.keys(view.providers)).toEqual(['sim'])
    expect(gw.runtime().generation).toBe(2)
    // The data plane too: the consumer above exists, so requests need a key; one made now works.
    const created = await admin('/api/admin/consumers', { method: 'POST', body: { name: 'still-serving', tier: 'basic' } })
    const id = created.json<{ id: string }>().id
    const key = (await admin(`/api/admin/consumers/${id}/keys`, { method: 'POST', body: {} })).json<{ key: string }>().key
    const answer = await chat(gw.url, { model: 'test-model', id: 'after-broken-reload', consumer: key })
    expect(answer.status).toBe(200)
  })

  it('a fixed file reloads again', async () => {
    writeFileSync(file, yamlFile(sim.url, { tiers: { basic: '{ rpm: 60, models: [test-model] }' } }))
    expect(okJson(await admin('/api/admin/reload', { method: 'POST' }))).toEqual({ ok: true, generation: 3 })
    expect(okJson<{ data: { name: string }[] }>(await admin('/api/admin/tiers')).data.map((t) => t.name)).toEqual(['basic'])
  })

  it('no admin answer and no log line holds a provider key, an admin key or the database password, in any form', () => {
    const scan = new LeakScan({
      'a provider key': [...providerKeys, brokenFileKey].flatMap((k) => leakNeedles(k, 'sk-cfgview-')),
      'the admin key': leakNeedles(adminKey),
      'the read-only key': leakNeedles(readOnlyKey),
      'the database password': [dbPassword],
    })
    expect(replies.length).toBeGreaterThan(8)
    replies.forEach((r, i) => scan.scan(`reply ${i}`, r.text))
    logs.lines.forEach((line, i) => scan.scan(`log line ${i}`, line))
    expect(scan.found).toEqual([])
  })
})
