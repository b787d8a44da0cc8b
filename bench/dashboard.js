// `npm run bench -- dashboard`: what an open dashboard costs the gateway. The same open-loop load
// runs with nobody watching, with one dashboard event stream open, and with nobody again (the
// spread between the two "closed" runs is the noise); then the gateway idles for a while with
// and without a viewer. The figure is the gateway process's own CPU time, from /proc.
//
// Environment: BENCH_RATE (default 300 requests/s), BENCH_SECONDS (measured window, default 8),
// BENCH_WARMUP (default 2), BENCH_IDLE_SECONDS (default 10).
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { request } from 'undici'
import { cpuTicks, runLoad } from './load.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const adminKey = 'adm-bench-dashboard-0000000000'
const env = (name, def) => (process.env[name] ? Number(process.env[name]) : def)
const settings = { rate: env('BENCH_RATE', 300), durationS: env('BENCH_SECONDS', 8), warmupS: env('BENCH_WARMUP', 2), idleS: env('BENCH_IDLE_SECONDS', 10) }
const clkTck = 100

function start(args) {
  const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] })
  const ready = new Promise((resolve, reject) => {
    let buf = ''
    child.stdout.on('data', (c) => {
      buf += c
      const nl = buf.indexOf('\n')
      if (nl >= 0) resolve(buf.slice(0, nl))
    })
    child.once('exit', (code) => reject(new Error(`${args[0]} exited with ${code}`)))
  })
  return { child, ready }
}

/** One dashboard viewer, server side: the event stream read and thrown away. */
async function openViewer(url) {
  const abort = new AbortController()
  const res = await request(`${url}/api/admin/events`, { headers: { authorization: `Bearer ${adminKey}` }, signal: abort.signal })
  if (res.statusCode !== 200) throw new Error(`events: ${res.statusCode}`)
  res.body.on('data', () => undefined)
  res.body.on('error', () => undefined)
  return () => abort.abort()
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

export async function runDashboardBench() {
  const tmp = mkdtempSync(join(tmpdir(), 'sluice-bench-dashboard-'))
  const sim = start(['bench/simulator.js', '--ttft-ms', '20'])
  const simUrl = JSON.parse(await sim.ready).url
  const port = 40000 + Math.floor(Math.random() * 20000)
  const config = join(tmp, 'sluice.yaml')
  writeFileSync(config, `server: { host: 127.0.0.1, port: ${port} }
log: { level: warn }
database: "sqlite::memory:"
admin: { keys: ["${adminKey}"] }
providers:
  sim:
    type: openai
    base_url: ${simUrl}/v1
    keys: [{ id: bench-1, key: sk-bench-1, max_concurrent: 1000 }]
models:
  bench-model: { targets: [{ provider: sim, model: sim-bench }] }
`)
  const gw = spawn(process.execPath, ['dist/cli.js', 'start', '--config', config, '--port', String(port)], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] })
  const url = `http://127.0.0.1:${port}`
  try {
    for (let i = 0; i < 100; i++) {
      const ok = await request(`${url}/health`).then((r) => r.body.dump().then(() => r.statusCode === 200), () => false)
      if (ok) break
      await sleep(50)
    }
    const load = async (label) => {
      const r = await runLoad({ url, mode: 'open', rate: settings.rate, warmupS: settings.warmupS, durationS: settings.durationS, cpuPids: [{ name: 'sluice', pid: gw.pid }], clkTck })
      return { label, rps: r.rps, p50Ms: r.latencyMs.p50, sluiceCpuMs: r.cpu.sluice.cpuMs, usPerRequest: r.cpu.sluice.usPerRequest, otherCores: r.machine.otherCores }
    }
    const idle = async (label) => {
      const before = cpuTicks(gw.pid)
      await sleep(settings.idleS * 1000)
      return { label, idleS: settings.idleS, sluiceCpuMs: ((cpuTicks(gw.pid) - before) * 1000) / clkTck }
    }
    const rows = []
    rows.push(await load('load, dashboard closed'))
    let close = await openViewer(url)
    rows.push(await load('load, dashboard open'))
    close()
    await sleep(500)
    rows.push(await load('load, dashboard closed again'))
    rows.push(await idle('idle, dashboard closed'))
    close = await openViewer(url)
    rows.push(await idle('idle, dashboard open'))
    close()
    for (const r of rows) process.stdout.write(JSON.stringify(r) + '\n')
    return rows
  } finally {
    gw.kill('SIGTERM')
    sim.child.kill('SIGTERM')
    rmSync(tmp, { recursive: true, force: true })
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await runDashboardBench()
