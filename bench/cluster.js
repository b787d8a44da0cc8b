// `npm run bench -- cluster`: what sharing state through Redis costs. The same open-loop load
// (a consumer with an RPM, a TPM and a budget, so its limits are on the path of every request,
// set high enough never to refuse) against: one instance with `state: memory`, one instance on
// Redis, and three instances on Redis (the load split evenly), all on one Postgres. Reported per request: the
// gateways' CPU, latency above the upstream's, and Redis commands (INFO commandstats of a
// private redis-server, so nothing else is counted) with the Redis server's own CPU.
//
// Environment: BENCH_RATE (requests/s in total, default 500), BENCH_SECONDS (measured window,
// default 8), BENCH_WARMUP (default 2), BENCH_UPSTREAM_MS (default 50).
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { request } from 'undici'
import { cpuTicks, runLoad } from './load.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const adminKey = 'adm-bench-cluster-00000000000000'
const env = (name, def) => (process.env[name] ? Number(process.env[name]) : def)
const settings = { rate: env('BENCH_RATE', 500), durationS: env('BENCH_SECONDS', 8), warmupS: env('BENCH_WARMUP', 2), upstreamMs: env('BENCH_UPSTREAM_MS', 50) }
const postgresUrl = process.env.SLUICE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const clkTck = 100
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
// Gateways on core 0, everything else (simulator, Redis, load) on core 1, when taskset exists.
const pinned = spawnSync('taskset', ['--version'], { stdio: 'ignore' }).status === 0

async function freePort() {
  const s = createServer()
  await new Promise((resolve) => s.listen(0, '127.0.0.1', resolve))
  const { port } = s.address()
  await new Promise((resolve) => s.close(resolve))
  return port
}

function spawnOn(core, cmd, args, opts) {
  return pinned ? spawn('taskset', ['-c', String(core), cmd, ...args], opts) : spawn(cmd, args, opts)
}

/** Resolves with the first stdout line that passes `test`. */
function lineOf(child, test) {
  return new Promise((resolve, reject) => {
    let buf = ''
    child.stdout.on('data', (c) => {
      buf += c
      let nl
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl)
        buf = buf.slice(nl + 1)
        if (test(line)) return resolve(line)
      }
    })
    child.once('exit', (code) => reject(new Error(`${child.spawnfile} exited with ${code}`)))
  })
}

async function sql(statement) {
  const client = new pg.Client({ connectionString: postgresUrl, connectionTimeoutMillis: 5_000 })
  await client.connect()
  try {
    return await client.query(statement)
  } finally {
    await client.end()
  }
}

async function admin(url, path, body) {
  const res = await request(`${url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' }, body: JSON.stringify(body) })
  const json = await res.body.json()
  if (res.statusCode >= 300) throw new Error(`${path}: ${res.statusCode} ${JSON.stringify(json)}`)
  return json
}

/** A redis-cli-free INFO commandstats: calls per command. */
async function commandCalls(port) {
  const { Redis } = await import('ioredis')
  const r = new Redis({ port, host: '127.0.0.1', lazyConnect: true })
  await r.connect()
  try {
    const text = await r.info('commandstats')
    let total = 0
    const byCommand = {}
    for (const m of text.matchAll(/cmdstat_(\w+(?:\|\w+)?):calls=(\d+)/g)) {
      if (m[1] === 'info') continue
      byCommand[m[1]] = Number(m[2])
      total += Number(m[2])
    }
    return { total, byCommand }
  } finally {
    r.disconnect()
  }
}

/** One scenario: `n` gateways on `state`, the load split between them; every process stopped at the end. */
async function scenario(label, n, state, ctx) {
  const tmp = mkdtempSync(join(tmpdir(), 'sluice-bench-cluster-'))
  const schema = `bench_cluster_${process.pid}_${Date.now()}`
  // Postgres in every scenario, so the difference is the state alone (Redis needs a shared database).
  const database = `${postgresUrl}?schema=${schema}`
  await sql(`CREATE SCHEMA ${schema}`)
  const config = join(tmp, 'sluice.yaml')
  writeFileSync(config, JSON.stringify({
    server: { host: '127.0.0.1', port: 0 },
    log: { level: 'warn', access_log: false },
    database,
    state: state === 'memory' ? 'memory' : { url: `redis://127.0.0.1:${ctx.redisPort}/0`, key_prefix: `${schema}:` },
    admin: { keys: [adminKey] },
    auth: 'required',
    tiers: { bench: { rpm: 10_000_000, tpm: 1_000_000_000, budget_usd: 1_000_000, budget_period: 'month' } },
    pricing: { 'sim-bench': { input: 0.15, output: 0.6 } },
    providers: { sim: { type: 'openai', base_url: `${ctx.simUrl}/v1`, keys: [{ id: 'bench-1', key: 'sk-bench-1', max_concurrent: 1000 }] } },
    models: { 'bench-model': { targets: [{ provider: 'sim', model: 'sim-bench' }] } },
  }))
  const gateways = []
  try {
    for (let i = 0; i < n; i++) {
      const gw = spawnOn(0, process.execPath, ['dist/cli.js', 'start', '--config', config, '--port', '0', '--no-watch'], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] })
      gateways.push(gw)
      const line = await lineOf(gw, (l) => l.includes('sluice listening'))
      gw.url = JSON.parse(line).url
    }
    const consumer = await admin(gateways[0].url, '/api/admin/consumers', { name: 'bench', tier: 'bench' })
    const { key } = await admin(gateways[0].url, `/api/admin/consumers/${consumer.id}/keys`, {})
    const before = state === 'memory' ? null : await commandCalls(ctx.redisPort)
    const redisBefore = cpuTicks(ctx.redisPid)
    // Warm-up inside runLoad; the commands counted cover warm-up too, so they are divided by every request sent.
    const runs = await Promise.all(gateways.map((gw) => runLoad({ url: gw.url, mode: 'open', rate: settings.rate / n, warmupS: settings.warmupS, durationS: settings.durationS, cpuPids: [{ name: 'sluice', pid: gw.pid }], clkTck, auth: key })))
    const redisCpuMs = ((cpuTicks(ctx.redisPid) - redisBefore) * 1000) / clkTck
    const after = state === 'memory' ? null : await commandCalls(ctx.redisPort)
    const completed = runs.reduce((s, r) => s + r.completed, 0)
    const sent = Math.round((settings.warmupS + settings.durationS) * settings.rate)
    const errors = runs.reduce((s, r) => s + r.errors.total, 0)
    const cpuMs = runs.reduce((s, r) => s + r.cpu.sluice.cpuMs, 0)
    const byCommand = {}
    if (after !== null) for (const [k, v] of Object.entries(after.byCommand)) if (v - (before.byCommand[k] ?? 0) > 0) byCommand[k] = v - (before.byCommand[k] ?? 0)
    return {
      label,
      instances: n,
      rps: runs.reduce((s, r) => s + r.rps, 0),
      errors,
      sluiceUsPerRequest: Math.round((cpuMs * 1000) / completed),
      addedP50Ms: Math.round((Math.max(...runs.map((r) => r.latencyMs.p50)) - settings.upstreamMs) * 10) / 10,
      addedP99Ms: Math.round((Math.max(...runs.map((r) => r.latencyMs.p99)) - settings.upstreamMs) * 10) / 10,
      // Script calls (EVALSHA/EVAL) are what the gateway sends; INFO also counts the commands run inside each script.
      redisScriptCallsPerRequest: after === null ? 0 : Math.round((((byCommand.evalsha ?? 0) + (byCommand.eval ?? 0)) / sent) * 100) / 100,
      redisCommandsPerRequest: after === null ? 0 : Math.round(((after.total - before.total) / sent) * 100) / 100,
      redisUsPerRequest: after === null ? 0 : Math.round((redisCpuMs * 1000) / sent),
      otherCores: Math.max(...runs.map((r) => r.machine.otherCores)),
    }
  } finally {
    for (const gw of gateways) gw.kill('SIGTERM')
    await Promise.all(gateways.map((gw) => (gw.exitCode === null ? new Promise((resolve) => gw.once('exit', resolve)) : null)))
    await sql(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
    rmSync(tmp, { recursive: true, force: true })
  }
}

/**
 * The admit stage alone, in this process: CPU per request with the in-process limiters and with
 * the Redis ports (admit script before, settlements batched after), sequential calls, so the
 * figure is the stage's own work and not the machine's other load.
 */
export async function stageCost(redisPort, n = 4000) {
  const { admit } = await import('../dist/stages/admit/index.js')
  const { effectiveSettings, LimiterRegistry, PriceTable } = await import('../dist/core/admit/index.js')
  const { RequestContext } = await import('../dist/context.js')
  const { createRedisState } = await import('../dist/state/redis/index.js')
  const { parseRedisUrl } = await import('../dist/state/settings.js')
  const settings = effectiveSettings({ rpm: 10_000_000, tpm: 1_000_000_000, budget_usd: 1_000_000, budget_period: 'month' }, null)
  const runtime = { prices: new PriceTable({ m: { input: 0.15, output: 0.6 } }), outputReserve: 16 }
  const res = { headersSent: false, setHeader: () => undefined }
  const usage = { startedAt: 1, usage: { promptTokens: 40, completionTokens: 16 } }
  const context = () => {
    const ctx = new RequestContext('r', { headers: {} }, res, runtime, 'chat', '/chat/completions')
    ctx.consumer = { id: 'con_bench', name: 'bench', keyPrefix: null, tier: 'bench', settings }
    ctx.model = 'm'
    ctx.json = { model: 'm', max_tokens: 16, messages: [{ role: 'user', content: 'hello there' }] }
    return ctx
  }
  const upstream = async (ctx) => {
    ctx.attempts.push(usage)
    ctx.current = usage
  }
  const state = createRedisState(parseRedisUrl(`redis://127.0.0.1:${redisPort}/0`, { keyPrefix: 'bench-stage:' }), { instanceId: 'bench' })
  await state.connect()
  const ports = { clock: { now: () => performance.now() }, epoch: () => Date.now(), spentSince: async () => 0 }
  const { SettlementBatch } = await import('../dist/state/settlement-batch.js')
  const batch = new SettlementBatch(state.consumerRates)
  const shared = { rates: state.consumerRates, spend: state.spend, health: state.health, instances: () => 1, failed: () => undefined, owe: () => undefined, settle: (id, s) => batch.add(id, s) }
  const stages = { memory: admit({ ...ports, limits: new LimiterRegistry() }), redis: admit({ ...ports, limits: new LimiterRegistry(), shared }) }
  const out = {}
  try {
    for (const [name, stage] of Object.entries(stages)) {
      const once = () => {
        const ctx = context()
        return stage(ctx, () => upstream(ctx))
      }
      for (let i = 0; i < 500; i++) await once() // warm: JIT, scripts loaded, the budget seeded
      const before = process.cpuUsage()
      const trips = state.connection.roundTrips
      for (let i = 0; i < n; i++) await once()
      // Settlements are sent without waiting: let the last ones land inside the measurement.
      await new Promise((r) => setTimeout(r, 50))
      const cpu = process.cpuUsage(before)
      out[name] = { usPerRequest: Math.round(((cpu.user + cpu.system) / n) * 10) / 10, roundTripsPerRequest: (state.connection.roundTrips - trips) / n }
    }
  } finally {
    await state.close()
  }
  return out
}

export async function runClusterBench() {
  const redisDir = mkdtempSync(join(tmpdir(), 'sluice-bench-redis-'))
  const redisPort = await freePort()
  const redis = spawnOn(1, 'redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', redisDir], { stdio: ['ignore', 'pipe', 'ignore'] })
  const sim = spawnOn(1, process.execPath, ['bench/simulator.js', '--ttft-ms', String(settings.upstreamMs)], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] })
  try {
    await lineOf(redis, (l) => l.includes('Ready to accept connections'))
    const simUrl = JSON.parse(await lineOf(sim, (l) => l.startsWith('{'))).url
    const ctx = { simUrl, redisPort, redisPid: redis.pid }
    process.stdout.write(`sluice cluster bench — ${settings.rate} req/s open loop, ${settings.durationS} s measured, upstream ${settings.upstreamMs} ms, ${pinned ? 'gateways on core 0, the rest on core 1' : 'not pinned (no taskset)'}\n`)
    const stage = await stageCost(redisPort)
    process.stdout.write(`admit stage alone (in process, sequential): ${JSON.stringify(stage)}\n`)
    const rows = []
    for (const [label, n, state] of [['1 instance, memory', 1, 'memory'], ['1 instance, Redis', 1, 'redis'], ['3 instances, Redis', 3, 'redis']]) {
      const row = await scenario(label, n, state, ctx)
      rows.push(row)
      process.stdout.write(JSON.stringify(row) + '\n')
      await sleep(500)
    }
    const base = rows[0].sluiceUsPerRequest
    process.stdout.write(`CPU per request vs memory: ${rows.map((r) => `${r.label} ${(r.sluiceUsPerRequest / base).toFixed(2)}×`).join(', ')}\n`)
    return rows
  } finally {
    sim.kill('SIGTERM')
    redis.kill('SIGTERM')
    rmSync(redisDir, { recursive: true, force: true })
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await runClusterBench()
