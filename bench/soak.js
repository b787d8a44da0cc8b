// `npm run bench -- soak`: sluice as deployed (bench/deployed.js) under a steady mixed load for
// SOAK_MINUTES (default 15) at SOAK_RATE requests/s (default 150), sampling its resident memory
// and JS heap every SOAK_SAMPLE_S seconds (default 10). The mix: plain requests, streams read to
// the end, streams the client drops after the first chunk, requests dropped while waiting, and
// upstream 500s and mid-stream resets drawn by the simulator. The question is whether RSS
// levels off: the report gives its slope per minute over each third of the run.
import { spawn } from 'node:child_process'
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Pool } from 'undici'
import { startSimulator } from '../dist/simulator/index.js'
import { createVirtualKey, deployedConfig } from './deployed.js'
import { freePort } from './free-port.js'
import { CHAT_BODY, CHAT_PATH, STREAM_BODY } from './load.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const minutes = Number(process.env.SOAK_MINUTES ?? 15)
const rate = Number(process.env.SOAK_RATE ?? 150)
const sampleS = Number(process.env.SOAK_SAMPLE_S ?? 10)

const residentKb = (pid) => Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+)/m)?.[1])

async function heapUsedMb(url) {
  const res = await fetch(`${url}/metrics`)
  const text = await res.text()
  const used = Number(text.match(/^sluice_process_nodejs_heap_size_used_bytes (\S+)/m)?.[1])
  const external = Number(text.match(/^sluice_process_nodejs_external_memory_bytes (\S+)/m)?.[1])
  return { heapMb: Math.round((used / 1048576) * 10) / 10, externalMb: Math.round((external / 1048576) * 10) / 10 }
}

/** Least-squares slope of y over x. */
function slope(points) {
  const n = points.length
  if (n < 2) return null
  const mx = points.reduce((s, p) => s + p[0], 0) / n
  const my = points.reduce((s, p) => s + p[1], 0) / n
  let num = 0
  let den = 0
  for (const [x, y] of points) {
    num += (x - mx) * (y - my)
    den += (x - mx) ** 2
  }
  return den === 0 ? null : num / den
}

export async function runSoak() {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-soak-'))
  const sim = await startSimulator({ port: 0, config: { latency: { ttft_ms: 30, tokens_per_second: 400 }, completion_tokens: 16, accept_unknown_keys: true, faults: { error_rate: 0.03, error_status: 500, reset_mid_stream_rate: 0.01 } } })
  const port = await freePort()
  const configFile = join(dir, 'sluice.yaml')
  writeFileSync(configFile, deployedConfig(sim.url, port, join(dir, 'sluice.db')))
  const key = createVirtualKey(root, configFile)
  // stdout (the access log) to a file, as deployed.
  const out = openSync(join(dir, 'stdout.log'), 'w')
  const child = spawn(process.execPath, ['dist/cli.js', 'start', '--config', configFile], { cwd: root, stdio: ['ignore', out, 'inherit'] })
  closeSync(out)
  const url = `http://127.0.0.1:${port}`
  const pool = new Pool(url, { connections: 256, headersTimeout: 30_000, bodyTimeout: 30_000 })
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${key}` }
  const counts = { sent: 0, ok: 0, upstreamErrors: 0, dropped: 0, failed: 0 }
  try {
    for (let i = 0; ; i++) {
      try {
        const r = await pool.request({ method: 'POST', path: CHAT_PATH, headers, body: CHAT_BODY })
        await r.body.dump()
        break
      } catch (err) {
        if (i > 100) throw err
        await new Promise((r) => setTimeout(r, 100))
      }
    }
    process.stdout.write(`soak: ${minutes} min at ${rate} req/s, sample every ${sampleS} s, sluice pid ${child.pid}\n`)
    const send = async (n) => {
      counts.sent++
      const kind = n % 20 // 11 plain, 6 streams read, 2 streams dropped after a chunk, 1 dropped while waiting
      const stream = kind >= 11 && kind < 19
      const controller = new AbortController()
      if (kind === 19) setTimeout(() => controller.abort(), 10)
      try {
        const r = await pool.request({ method: 'POST', path: CHAT_PATH, headers, body: stream ? STREAM_BODY : CHAT_BODY, signal: controller.signal })
        if (r.statusCode >= 500) counts.upstreamErrors++
        if (kind >= 17 && kind < 19) {
          for await (const _chunk of r.body) {
            controller.abort()
            break
          }
          counts.dropped++
          return
        }
        await r.body.dump({ limit: 1 << 20 })
        if (r.statusCode === 200) counts.ok++
      } catch {
        if (controller.signal.aborted) counts.dropped++
        else counts.failed++
      }
    }
    const samples = []
    const started = performance.now()
    const endAt = started + minutes * 60_000
    let n = 0
    const sampleTimer = setInterval(async () => {
      const t = (performance.now() - started) / 60_000
      const rssMb = Math.round(residentKb(child.pid) / 102.4) / 10
      const heap = await heapUsedMb(url).catch(() => ({ heapMb: null, externalMb: null }))
      samples.push({ minute: Math.round(t * 100) / 100, rssMb, ...heap })
      process.stdout.write(`  ${t.toFixed(1)} min  RSS ${rssMb} MB  heap ${heap.heapMb} MB  external ${heap.externalMb} MB  sent ${counts.sent}\n`)
    }, sampleS * 1000)
    await new Promise((resolve) => {
      const tick = () => {
        const now = performance.now()
        if (now >= endAt) return resolve()
        const due = Math.floor(((now - started) / 1000) * rate)
        while (n < due) void send(n++)
        setTimeout(tick, 5)
      }
      tick()
    })
    clearInterval(sampleTimer)
    const third = minutes / 3
    const fit = (from, to) => {
      const s = slope(samples.filter((p) => p.minute >= from && p.minute < to).map((p) => [p.minute, p.rssMb]))
      return s === null ? null : Math.round(s * 100) / 100
    }
    const report = {
      minutes, rate, counts,
      rssSlopeMbPerMin: { first: fit(1, third), middle: fit(third, 2 * third), last: fit(2 * third, minutes + 1) },
      rssMb: { start: samples[0]?.rssMb, end: samples.at(-1)?.rssMb, max: Math.max(...samples.map((s) => s.rssMb)) },
      heapMb: { start: samples[0]?.heapMb, end: samples.at(-1)?.heapMb },
      samples,
    }
    process.stdout.write(`\nRSS slope MB/min — first third ${report.rssSlopeMbPerMin.first}, middle ${report.rssSlopeMbPerMin.middle}, last ${report.rssSlopeMbPerMin.last}; RSS ${report.rssMb.start} → ${report.rssMb.end} MB (max ${report.rssMb.max}); heap ${report.heapMb.start} → ${report.heapMb.end} MB\n`)
    process.stdout.write(`requests: ${JSON.stringify(counts)}\n`)
    const out = join(root, 'bench', 'results', `soak-${new Date().toISOString().replace(/[:.]/g, '-')}.json`)
    writeFileSync(out, JSON.stringify(report, null, 2) + '\n')
    process.stdout.write(`full figures: ${out}\n`)
  } finally {
    await pool.destroy()
    child.kill('SIGTERM')
    await new Promise((r) => child.once('exit', r))
    await sim.close()
    rmSync(dir, { recursive: true, force: true })
  }
}
