// `npm run bench -- memory`: sluice as deployed (bench/deployed.js), its memory at three moments:
// idle after start and one request; with MEMORY_STREAMS (default 1,000) streams in flight at once;
// and with MEMORY_WAITING (default 1,000) requests waiting in the queue for a busy key, whose
// live heap (after a full collection, sluice run with --expose-gc) per request is the figure.
import { spawn } from 'node:child_process'
import { setMaxListeners } from 'node:events'
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { Pool } from 'undici'
import { startSimulator } from '../dist/simulator/index.js'
import { createVirtualKey, deployedConfig } from './deployed.js'
import { freePort } from './free-port.js'
import { CHAT_BODY, CHAT_PATH, STREAM_BODY } from './load.js'

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, '..')
const streams = Number(process.env.MEMORY_STREAMS ?? 1000)
const waiting = Number(process.env.MEMORY_WAITING ?? 1000)

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

/** Starts sluice with the event-loop probe and --expose-gc; `probe()` returns its figures now. */
async function startSluice(dir, config) {
  const port = await freePort()
  const configFile = join(dir, `sluice-${port}.yaml`)
  writeFileSync(configFile, config(port))
  const key = createVirtualKey(root, configFile)
  const eldFile = join(dir, `probe-${port}.json`)
  // stdout (the access log) to a file, as deployed.
  const out = openSync(join(dir, `stdout-${port}.log`), 'w')
  const child = spawn(process.execPath, ['--expose-gc', '--import', pathToFileURL(join(here, 'eld-probe.js')).href, 'dist/cli.js', 'start', '--config', configFile],
    { cwd: root, stdio: ['ignore', out, 'inherit'], env: { ...process.env, BENCH_ELD_FILE: eldFile } })
  closeSync(out)
  const url = `http://127.0.0.1:${port}`
  const pool = new Pool(url, { connections: Math.max(streams, waiting) + 16, headersTimeout: 120_000, bodyTimeout: 120_000 })
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${key}` }
  for (let i = 0; ; i++) {
    try {
      const r = await pool.request({ method: 'POST', path: CHAT_PATH, headers, body: CHAT_BODY })
      await r.body.dump()
      break
    } catch (err) {
      if (i > 100) throw err
      await sleep(100)
    }
  }
  const probe = async () => {
    rmSync(eldFile, { force: true })
    process.kill(child.pid, 'SIGUSR2')
    for (let i = 0; i < 100; i++) {
      try {
        return JSON.parse(readFileSync(eldFile, 'utf8'))
      } catch {
        await sleep(20)
      }
    }
    throw new Error('the probe did not answer')
  }
  const stop = async () => {
    await pool.destroy()
    child.kill('SIGTERM')
    await new Promise((r) => child.once('exit', r))
  }
  return { url, pool, headers, probe, stop }
}

export async function runMemory() {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-memory-'))
  const report = {}
  // 16 chunks at 4 tokens/s: each stream lasts ~4 s, long enough to have them all open at once.
  const sim = await startSimulator({ port: 0, config: { latency: { ttft_ms: 0, tokens_per_second: 4 }, completion_tokens: 16, accept_unknown_keys: true, faults: {} } })
  try {
    const s = await startSluice(dir, (port) => deployedConfig(sim.url, port, join(dir, `s-${port}.db`)).replace('max_connections: 1024', `max_connections: ${Math.max(1024, streams + 16)}`))
    try {
      await sleep(1500) // past the usage ledger's first batch, so its writer thread is counted
      const idle = await s.probe()
      report.idle = { rssMb: idle.rssMb, liveHeapMb: mb(idle.liveHeapBytes) }
      // Streams that have their first chunk and have not ended: the ones sluice holds open now.
      let openNow = 0
      const open = Array.from({ length: streams }, async () => {
        const r = await s.pool.request({ method: 'POST', path: CHAT_PATH, headers: s.headers, body: STREAM_BODY })
        let first = true
        for await (const _chunk of r.body) {
          if (first) openNow++
          first = false
        }
        if (!first) openNow--
        return r.statusCode
      })
      for (let i = 0; i < 120 && openNow < streams; i++) await sleep(25)
      const held = openNow
      const busy = await s.probe()
      report.streams = { count: streams, openAtProbe: held, rssMb: busy.rssMb, liveHeapMb: mb(busy.liveHeapBytes), liveHeapPerStreamKb: kb((busy.liveHeapBytes - idle.liveHeapBytes) / Math.max(1, held)) }
      const statuses = await Promise.all(open)
      report.streams.ok = statuses.filter((c) => c === 200).length
    } finally {
      await s.stop()
    }
    // One key that takes one request at a time, from an upstream that answers after 60 s: every
    // other request waits in the queue (which is made large enough to hold them).
    const slow = await startSimulator({ port: 0, config: { latency: { ttft_ms: 60_000 }, completion_tokens: 16, accept_unknown_keys: true, faults: {} } })
    try {
      const w = await startSluice(dir, (port) => deployedConfig(slow.url, port, join(dir, `w-${port}.db`))
        .replace(/max_concurrent: 1000/g, 'max_concurrent: 1')
        .replace('models:', `queue: { max_size: ${waiting + 10}, per_consumer: ${waiting + 10} }\nmodels:`))
      try {
        const before = await w.probe()
        const controller = new AbortController()
        setMaxListeners(0, controller.signal) // one signal for every waiting request
        const sent = Array.from({ length: waiting + 2 }, () => w.pool.request({ method: 'POST', path: CHAT_PATH, headers: w.headers, body: CHAT_BODY, signal: controller.signal }).then((r) => r.body.dump(), () => undefined))
        const queued = async () => {
          const text = await (await fetch(`${w.url}/metrics`)).text()
          return Number(text.match(/^sluice_queue_depth\{model="bench-model",priority="normal"\} (\S+)/m)?.[1] ?? 0)
        }
        let depth = 0
        for (let i = 0; i < 200 && depth < waiting; i++) {
          await sleep(25)
          depth = await queued()
        }
        const after = await w.probe()
        report.waiting = { count: depth, liveHeapMb: mb(after.liveHeapBytes), liveHeapPerRequestKb: kb((after.liveHeapBytes - before.liveHeapBytes) / Math.max(1, depth)), rssMb: after.rssMb }
        controller.abort()
        await Promise.all(sent)
      } finally {
        await w.stop()
      }
    } finally {
      await slow.close()
    }
  } finally {
    await sim.close()
    rmSync(dir, { recursive: true, force: true })
  }
  process.stdout.write(`idle: RSS ${report.idle.rssMb} MB, live heap ${report.idle.liveHeapMb} MB\n`)
  process.stdout.write(`${report.streams.count} streams (${report.streams.openAtProbe} open at the probe, ${report.streams.ok} answered 200): RSS ${report.streams.rssMb} MB, live heap ${report.streams.liveHeapMb} MB, ${report.streams.liveHeapPerStreamKb} KB per stream\n`)
  process.stdout.write(`${report.waiting.count} requests waiting: live heap ${report.waiting.liveHeapMb} MB, ${report.waiting.liveHeapPerRequestKb} KB per waiting request, RSS ${report.waiting.rssMb} MB\n`)
  const out = join(root, 'bench', 'results', `memory-${new Date().toISOString().replace(/[:.]/g, '-')}.json`)
  writeFileSync(out, JSON.stringify(report, null, 2) + '\n')
  process.stdout.write(`full figures: ${out}\n`)
}

const mb = (bytes) => Math.round((bytes / 1048576) * 10) / 10
const kb = (bytes) => Math.round((bytes / 1024) * 10) / 10
