// `npm run bench`: sluice against the simulator directly and against a minimal node:http +
// undici proxy, in one run, on this machine. See bench/README.md for what each figure means.
//
//   npm run bench                        full run (~2 minutes)
//   BENCH_SECONDS=3 BENCH_WARMUP=1 npm run bench     quick smoke run
//   npm run bench -- --profile           one closed-loop sluice run under --cpu-prof, summarised
//   npm run bench -- pacing              the queue and pacer scenarios of issue 6 instead (bench/pacing.js)
//   npm run bench -- concurrency         the learned per-key concurrency limit instead (bench/concurrency.js)
//   npm run bench -- breaker             key health under noise and a real failure instead (bench/breaker-soak.js)
//   npm run bench -- scrub               CPU per MB of the key scrubber on relayed bodies instead (bench/scrub.js)
//   npm run bench -- dashboard           CPU with the dashboard's event stream open vs closed (bench/dashboard.js)
//   npm run bench -- soak                resident memory under 15 minutes of mixed traffic (bench/soak.js)
//   npm run bench -- memory              memory idle, with 1,000 streams and with 1,000 waiting requests (bench/memory.js)
//   npm run bench -- cluster             1 instance in memory vs 1 and 3 on Redis: CPU, latency, Redis commands per request (bench/cluster.js)
//
// Environment: BENCH_SECONDS (measured window, default 10), BENCH_WARMUP (default 3),
// BENCH_RATE (open-loop rate, default 1000), BENCH_HIGH_RATE (the second open loop, default 3000),
// BENCH_CONNECTIONS (closed loop, default 50), BENCH_STREAMS (concurrent streams, default 100),
// BENCH_UPSTREAM_MS (open-loop upstream latency, default 50), BENCH_SCENARIOS (default
// closed,open,open-high,stream), BENCH_TARGETS (default direct,minimal,full,sluice: full is sluice
// as a team deploys it — virtual keys, a tier with rpm/tpm, the SQLite usage ledger, the access log,
// two keys; sluice is anonymous callers, no ledger; sluice-nolog is sluice with log.access_log:
// false), BENCH_QUIET_WAIT (seconds to wait for other work on the machine to
// stop before each run, default 10), BENCH_RETRIES (re-runs of a run that other work
// disturbed, default 2), BENCH_BUDGET (seconds of wall time that waits and re-runs may stretch
// the whole bench to, default 600).
import { spawn, spawnSync } from 'node:child_process'
import { closeSync, createReadStream, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { availableParallelism, cpus, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { request } from 'undici'
import { createVirtualKey, deployedConfig } from './deployed.js'
import { freePort } from './free-port.js'
import { CHAT_BODY, CHAT_PATH, machineTicks } from './load.js'
import { summariseProfile, formatProfile } from './profile-summary.js'

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, '..')
const resultsDir = join(here, 'results')
const profileMode = process.argv.includes('--profile')
const pacingMode = process.argv.slice(2).includes('pacing')
const concurrencyMode = process.argv.slice(2).includes('concurrency')
const breakerMode = process.argv.slice(2).includes('breaker')
const scrubMode = process.argv.slice(2).includes('scrub')
const dashboardMode = process.argv.slice(2).includes('dashboard')
const soakMode = process.argv.slice(2).includes('soak')
const memoryMode = process.argv.slice(2).includes('memory')
const clusterMode = process.argv.slice(2).includes('cluster')

// A bench run takes minutes and the machine: --help or a mistyped option must not start one.
const benchUsage = `Usage: npm run bench [-- MODE] [-- --profile]

Without a MODE, the proxy-overhead benchmark: sluice against the simulator and a minimal proxy
(about 2 minutes). The modes (pacing, concurrency, …) and the environment variables that tune a
run are listed at the top of bench/run.js and in bench/README.md.

  --profile     one closed-loop sluice run under --cpu-prof, summarised
  -h, --help    print this help
`
{
  const args = process.argv.slice(2)
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(benchUsage)
    process.exit(0)
  }
  const unknown = args.find((a) => a.startsWith('-') && a !== '--profile')
  if (unknown !== undefined) {
    process.stderr.write(`bench: unknown option ${unknown}\n\n${benchUsage}`)
    process.exit(2)
  }
}

const num = (name, def) => {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return def
  const v = Number(raw)
  if (!(v >= 0)) throw new Error(`${name} must be a non-negative number, not "${raw}"`)
  return v
}
const settings = {
  warmupS: num('BENCH_WARMUP', 3),
  durationS: num('BENCH_SECONDS', 10),
  rate: num('BENCH_RATE', 1000),
  highRate: num('BENCH_HIGH_RATE', 3000),
  connections: num('BENCH_CONNECTIONS', 50),
  streams: num('BENCH_STREAMS', 100),
  upstreamMs: num('BENCH_UPSTREAM_MS', 50),
  quietWaitS: num('BENCH_QUIET_WAIT', 10),
  retries: num('BENCH_RETRIES', 2),
  budgetS: num('BENCH_BUDGET', 600),
  scenarios: (process.env.BENCH_SCENARIOS ?? 'closed,open,open-high,stream').split(',').filter(Boolean),
  targets: (process.env.BENCH_TARGETS ?? 'direct,minimal,full,sluice').split(',').filter(Boolean),
}
for (const t of settings.targets) if (!['direct', 'minimal', 'full', 'sluice', 'sluice-nolog'].includes(t)) throw new Error(`BENCH_TARGETS: unknown target ${t}`)

/**
 * Each scenario: the load pattern and the simulator behind it. Streams are paced by the simulator
 * (16 chunks at 100 tokens/s) so that the gaps between chunks say what the proxy adds to each.
 */
const SCENARIOS = {
  closed: { mode: 'closed', label: () => `closed ${settings.connections} conn, 0 ms`, upstream: { ttftMs: 0 } },
  open: { mode: 'open', rate: () => settings.rate, label: () => `open ${settings.rate}/s, ${settings.upstreamMs} ms`, upstream: { ttftMs: settings.upstreamMs } },
  'open-high': { mode: 'open', rate: () => settings.highRate, label: () => `open ${settings.highRate}/s, ${settings.upstreamMs} ms`, upstream: { ttftMs: settings.upstreamMs } },
  stream: { mode: 'stream', label: () => `${settings.streams} streams, 100 tok/s`, upstream: { ttftMs: 0, tokensPerSecond: 100 } },
}
for (const s of settings.scenarios) if (!Object.hasOwn(SCENARIOS, s)) throw new Error(`BENCH_SCENARIOS: unknown scenario ${s}`)

/** Other processes using more than this many cores during a window make the run suspect. */
const CONTENDED_CORES = 0.1

/** Issue 18's targets, for each sluice target (full and anonymous) against the same run's proxies. */
const TARGETS = {
  cpuRatio: 0.7, // requests per CPU-second, closed loop: ≥ 0.7 × the minimal proxy's
  addedP50Ms: 0.3, // open loop at BENCH_RATE: p50 − direct p50
  addedP99Ms: 3, // open loop at BENCH_RATE: p99 − direct p99
  eventLoopP99Ms: 5, // open loop at BENCH_RATE, inside sluice
  highAddedP99Ms: 5, // open loop at BENCH_HIGH_RATE: every request served, p99 − direct p99
  streamAddedTtfbP50Ms: 1, // streams: time to first byte p50 − the minimal proxy's
  idleRssMb: 80,
}

if (!existsSync(join(root, 'dist', 'cli.js'))) {
  process.stderr.write('dist/ is missing: run `npm run bench` (it builds first) or `npm run build`\n')
  process.exit(2)
}

// Pinning: the system under test alone on core 0; simulator and load generator on core 1.
const cores = availableParallelism()
const hasTaskset = spawnSync('taskset', ['--version'], { stdio: 'ignore' }).status === 0
const pinning = hasTaskset && cores >= 2
  ? { enabled: true, note: 'taskset: system under test on core 0; simulator and load generator on core 1' }
  : { enabled: false, note: hasTaskset ? `only ${cores} core: processes are NOT pinned` : 'taskset not found (package util-linux): processes are NOT pinned; figures are noisier' }
const clkTck = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100

const children = new Set()
const tmp = mkdtempSync(join(tmpdir(), 'sluice-bench-'))

function launch(core, args, opts = {}) {
  const [cmd, argv] = pinning.enabled ? ['taskset', ['-c', String(core), process.execPath, ...args]] : [process.execPath, args]
  // taskset execs node in place, so child.pid is the node process whose /proc/<pid>/stat we read.
  const child = spawn(cmd, argv, { cwd: root, stdio: ['ignore', opts.stdout ?? 'pipe', 'pipe'], env: { ...process.env, ...opts.env } })
  children.add(child)
  let stderr = ''
  child.stderr.on('data', (c) => (stderr = (stderr + c).slice(-4000)))
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => {
    children.delete(child)
    resolve({ code, signal })
  }))
  return { child, exited, stderr: () => stderr }
}

/** Resolves with the first JSON line the process prints (its url and pid). */
function firstJsonLine(proc, what, timeoutMs = 10_000) {
  return new Promise((resolve, reject) => {
    let buf = ''
    const timer = setTimeout(() => reject(new Error(`${what} did not start within ${timeoutMs} ms: ${proc.stderr()}`)), timeoutMs)
    proc.child.stdout.on('data', (c) => {
      buf += c
      const nl = buf.indexOf('\n')
      if (nl >= 0) {
        clearTimeout(timer)
        resolve(JSON.parse(buf.slice(0, nl)))
      }
    })
    void proc.exited.then(({ code }) => reject(new Error(`${what} exited (${code}) before it was ready: ${proc.stderr()}`)))
  })
}

async function stop(proc, what) {
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) return
  proc.child.kill('SIGTERM')
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), 10_000)
  const { code, signal } = await proc.exited
  clearTimeout(timer)
  if (signal === 'SIGKILL') process.stderr.write(`warning: ${what} ignored SIGTERM and was killed\n`)
  return { code, signal }
}

/** One chat request; checks that the reply is a 200 chat completion. */
async function preflight(url, what, auth = 'sk-bench-client', deadlineMs = 10_000) {
  const until = Date.now() + deadlineMs
  for (;;) {
    try {
      const res = await request(url + CHAT_PATH, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${auth}` }, body: CHAT_BODY })
      const text = await res.body.text()
      if (res.statusCode !== 200) throw new Error(`${what}: preflight answered ${res.statusCode}: ${text.slice(0, 300)}`)
      const json = JSON.parse(text)
      if (!Array.isArray(json.choices)) throw new Error(`${what}: preflight reply is not a chat completion: ${text.slice(0, 300)}`)
      return { model: json.model, bytes: Buffer.byteLength(text), headers: res.headers }
    } catch (err) {
      if (err.code !== 'ECONNREFUSED' || Date.now() > until) throw err
      await new Promise((r) => setTimeout(r, 50))
    }
  }
}

async function startSimulator({ ttftMs, tokensPerSecond }) {
  const args = ['bench/simulator.js', '--ttft-ms', String(ttftMs)]
  if (tokensPerSecond !== undefined) args.push('--tokens-per-second', String(tokensPerSecond))
  const proc = launch(1, args)
  const { url } = await firstJsonLine(proc, 'simulator')
  return { proc, url, pid: proc.child.pid }
}

function sluiceConfig(simUrl, port, accessLog = true) {
  // One OpenAI-dialect provider with three keys; the route renames the model as production does.
  return `# generated by bench/run.js
server: { host: 127.0.0.1, port: ${port} }
log: { level: info, access_log: ${accessLog} }
database: "sqlite::memory:"
providers:
  sim:
    type: openai
    base_url: ${simUrl}/v1
    keys:
      # A fixed concurrency limit: this bench measures the proxy's own cost, not a learned limit
      # ramping up from 8 (that is npm run bench -- concurrency).
      - { id: bench-1, key: sk-bench-1, max_concurrent: 1000 }
      - { id: bench-2, key: sk-bench-2, max_concurrent: 1000 }
      - { id: bench-3, key: sk-bench-3, max_concurrent: 1000 }
models:
  bench-model:
    targets: [{ provider: sim, model: sim-bench }]
`
}

/** Starts the system under test on core 0; `direct` has none and loads the simulator itself. */
async function startTarget(kind, simUrl, extraNodeArgs = []) {
  if (kind === 'direct') return { url: simUrl, pid: null, proc: null, auth: 'sk-bench-client' }
  const eldFile = join(tmp, `eld-${kind}-${Date.now()}.json`)
  const probe = ['--import', pathToFileURL(join(here, 'eld-probe.js')).href]
  const env = { BENCH_ELD_FILE: eldFile }
  if (kind === 'minimal') {
    const proc = launch(0, [...probe, 'bench/minimal-proxy.js', '--port', '0', '--upstream', simUrl], { env })
    const { url } = await firstJsonLine(proc, 'minimal proxy')
    return { url, pid: proc.child.pid, proc, eldFile, auth: 'sk-bench-client' }
  }
  const port = await freePort()
  const configFile = join(tmp, `sluice-${port}.yaml`)
  let auth = 'sk-bench-client'
  if (kind === 'full') {
    writeFileSync(configFile, deployedConfig(simUrl, port, join(tmp, `sluice-${port}.db`)))
    auth = createVirtualKey(root, configFile)
  } else {
    writeFileSync(configFile, sluiceConfig(simUrl, port, kind !== 'sluice-nolog'))
  }
  // Access log on, as in production: stdout goes to a file, which sluice's process pays for.
  const accessLog = join(tmp, `sluice-${port}.log`)
  const out = openSync(accessLog, 'w')
  const proc = launch(0, [...probe, ...extraNodeArgs, 'dist/cli.js', 'start', '--config', configFile, '--port', String(port)], { stdout: out, env })
  closeSync(out)
  return { url: `http://127.0.0.1:${port}`, pid: proc.child.pid, proc, accessLog, configFile, eldFile, auth, databaseFile: kind === 'full' ? join(tmp, `sluice-${port}.db`) : null }
}

/** Resident memory of a process in MB, from /proc/<pid>/status. */
function residentMb(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = Number(status.match(/^VmRSS:\s+(\d+)/m)?.[1])
  return Math.round(kb / 1024)
}

function runLoadProcess(args) {
  const proc = launch(1, ['bench/load.js', ...args])
  let out = ''
  proc.child.stdout.on('data', (c) => (out += c))
  const limitMs = (settings.warmupS + settings.durationS) * 1000 + 30_000
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), limitMs)
  return proc.exited.then(({ code }) => {
    clearTimeout(timer)
    if (code !== 0) throw new Error(`load generator failed (${code}): ${proc.stderr()}`)
    return JSON.parse(out)
  })
}

/** Usage records in a stopped sluice's SQLite file: every request admitted must have one. */
function countUsageRecords(file) {
  const out = spawnSync(process.execPath, ['-e', `const D = require('better-sqlite3'); const db = new D(process.argv[1], { readonly: true }); process.stdout.write(String(db.prepare('select count(*) as n from usage_records').get().n))`, file], { cwd: root, encoding: 'utf8' })
  const n = Number(out.stdout)
  return out.status === 0 && Number.isInteger(n) ? n : null
}

/**
 * Access-log lines in a log file — the lines whose msg is "request" (start and stop lines are
 * not) — and how many of them ended with each error code (queue_full, queue_timeout, …).
 */
async function countAccessLines(file) {
  let lines = 0
  const errors = {}
  for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
    if (!line.includes('"msg":"request"')) continue
    lines++
    const code = /"error":"([a-z_]+)"/.exec(line)?.[1]
    if (code !== undefined) errors[code] = (errors[code] ?? 0) + 1
  }
  return { lines, errors }
}

// Waits and re-runs spend the slack between the planned run time and BENCH_BUDGET, so that a
// busy machine makes the bench report disturbed figures (flagged) rather than run for ever.
const startedAt = Date.now()
const runSeconds = () => settings.warmupS + settings.durationS + 3
let runsLeft = 0
const slackS = () => settings.budgetS - (Date.now() - startedAt) / 1000 - runsLeft * runSeconds()

/** Waits until the machine is idle apart from us (the idle simulator), up to BENCH_QUIET_WAIT s. */
async function waitQuiet() {
  const started = Date.now()
  const maxMs = Math.max(0, Math.min(settings.quietWaitS, slackS() - runSeconds())) * 1000
  let busy = Infinity
  while (Date.now() - started < maxMs) {
    const a = machineTicks()
    await new Promise((r) => setTimeout(r, 500))
    busy = (machineTicks().busy - a.busy) / clkTck / 0.5
    if (busy < CONTENDED_CORES) break
  }
  return { waitedS: Math.round((Date.now() - started) / 100) / 10, busyCores: Math.round(busy * 100) / 100 }
}

/** A run, repeated while other work on the machine disturbed it; keeps the least disturbed. */
async function measure(scenario, kind, sim) {
  let best = null
  runsLeft-- // this planned run starts now; re-runs come out of the slack
  for (let attempt = 0; attempt <= settings.retries; attempt++) {
    if (attempt > 0 && slackS() < runSeconds()) {
      process.stdout.write('(no time left in BENCH_BUDGET to run it again) ')
      break
    }
    const quiet = await waitQuiet()
    const r = await measureOnce(scenario, kind, sim)
    r.attempt = attempt + 1
    r.quietBefore = quiet
    if (best === null || r.machine.otherCores < best.machine.otherCores) best = r
    if (r.machine.otherCores <= CONTENDED_CORES) break
    process.stdout.write(`(other processes used ${r.machine.otherCores} cores: ${attempt < settings.retries ? 'again' : 'keeping the least disturbed run'}) `)
  }
  return best
}

async function measureOnce(scenario, kind, sim) {
  const target = await startTarget(kind, sim.url)
  try {
    const pre = await preflight(target.url, kind, target.auth)
    // Idle is after the usage ledger's first batch (written 1 s after the preflight), so that
    // everything a running sluice has — its writer thread included — is counted.
    if (target.pid !== null) await new Promise((r) => setTimeout(r, 1500))
    const idleRssMb = target.pid === null ? null : residentMb(target.pid)
    const pids = [target.pid === null ? null : `sut=${target.pid}`, `sim=${sim.pid}`].filter(Boolean).join(',')
    const common = ['--url', target.url, '--warmup', String(settings.warmupS), '--duration', String(settings.durationS), '--cpu-pids', pids, '--clk-tck', String(clkTck), '--auth', target.auth]
    if (target.pid !== null) common.push('--signal-pids', String(target.pid))
    const spec = SCENARIOS[scenario]
    const shape = spec.mode === 'closed'
      ? ['--mode', 'closed', '--connections', String(settings.connections)]
      : spec.mode === 'stream'
        ? ['--mode', 'stream', '--connections', String(settings.streams)]
        : ['--mode', 'open', '--rate', String(spec.rate())]
    const load = await runLoadProcess([...common, ...shape])
    const result = { scenario, target: kind, preflightModel: pre.model, idleRssMb, ...load }
    // The probe writes at the window's start and at its end: only the second write is the window's.
    if (target.eldFile && existsSync(target.eldFile)) {
      const figures = JSON.parse(readFileSync(target.eldFile, 'utf8'))
      if (figures.seq === 2) result.eventLoop = figures
    }
    if (target.proc) {
      const exit = await stop(target.proc, kind)
      result.exit = exit
      if (target.accessLog) {
        const logged = await countAccessLines(target.accessLog)
        result.accessLogLines = logged.lines
        result.accessLogErrors = logged.errors
        result.accessLogBytes = statSync(target.accessLog).size
        rmSync(target.accessLog)
      }
      if (target.databaseFile) result.usageRecords = countUsageRecords(target.databaseFile)
    }
    return result
  } finally {
    if (target.proc) await stop(target.proc, kind)
  }
}

// ---------- output ----------

const f0 = (x) => (x === null || x === undefined ? '-' : Math.round(x).toLocaleString('en-US'))
const f1 = (x) => (x === null || x === undefined ? '-' : x.toFixed(1))
const f2 = (x) => (x === null || x === undefined ? '-' : x.toFixed(2))
const signed = (x) => (x === null || x === undefined ? '-' : (x >= 0 ? '+' : '') + x.toFixed(2))

function table(runs) {
  const direct = (scenario) => runs.find((r) => r.scenario === scenario && r.target === 'direct')
  const rows = [['scenario', 'target', 'rps', 'SUT µs/req', 'SUT core', 'sim µs/req', 'core1', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', '+p50 ms', '+p99 ms', 'loop p99', 'RSS MB', 'errors', 'other']]
  for (const r of runs) {
    const d = direct(r.scenario)
    // Streams: latency is time to first byte, the figure a streaming client waits for.
    const figures = (run) => (run.scenario === 'stream' ? run.firstByteMs : run.latencyMs)
    const added = (p) => (r.target === 'direct' || !d ? null : figures(r)[p] - figures(d)[p])
    const label = SCENARIOS[r.scenario].label() + (r.scenario === 'stream' ? ' (TTFB)' : '')
    const core1 = (r.cpu.sim?.util ?? 0) + (r.cpu.loadgen?.util ?? 0)
    const lat = figures(r)
    rows.push([
      label, r.target, f0(r.rps), r.cpu.sut ? f1(r.cpu.sut.usPerRequest) : '-', r.cpu.sut ? `${Math.round(r.cpu.sut.util * 100)}%` : '-',
      f1(r.cpu.sim?.usPerRequest), `${Math.round(core1 * 100)}%`,
      f2(lat.p50), f2(lat.p90), f2(lat.p99), f2(lat.max),
      signed(added('p50')), signed(added('p99')), r.eventLoop ? f2(r.eventLoop.p99) : '-',
      r.eventLoop ? `${r.idleRssMb}→${r.eventLoop.rssMb}` : '-', String(r.errors.total),
      `${r.machine.otherCores.toFixed(2)}${r.machine.otherCores > CONTENDED_CORES ? '!' : ''}`,
    ])
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)))
  return rows.map((row, i) => row.map((cell, c) => (c < 2 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ') + (i === 0 ? '\n' + widths.map((w) => '-'.repeat(w)).join('  ') : '')).join('\n')
}

function checks(runs) {
  const get = (scenario, target) => runs.find((r) => r.scenario === scenario && r.target === target)
  const out = []
  for (const r of runs) {
    const problems = []
    const warnings = []
    if (r.errors.total > 0) problems.push(`${r.errors.total} errors ${JSON.stringify(r.errors.byKind)}${r.accessLogErrors && Object.keys(r.accessLogErrors).length > 0 ? `, logged as ${JSON.stringify(r.accessLogErrors)}` : ''}`)
    if (r.rate !== null && Math.abs(r.rps - r.rate) > r.rate * 0.02) problems.push(`achieved ${r.rps}/s, not ${r.rate}/s`)
    if (r.machine.otherCores > CONTENDED_CORES) warnings.push(`other processes used ${r.machine.otherCores} cores during the window`)
    // Every answered request (warm-up and the preflight included) has exactly one line and one record.
    const served = r.answered + 1
    if (r.accessLogLines !== undefined && r.target !== 'sluice-nolog' && r.accessLogLines !== served) problems.push(`access log has ${r.accessLogLines} request lines for ${served} answered requests`)
    if (r.usageRecords !== undefined && r.usageRecords !== served) problems.push(`usage ledger has ${r.usageRecords} records for ${served} answered requests`)
    out.push({ name: `valid ${r.scenario}/${r.target}`, pass: problems.length === 0, warn: warnings.length > 0, text: [...problems, ...warnings].join('; ') || '0 errors, undisturbed' })
  }
  const pct = (x) => `${(x * 100).toFixed(1)}%`
  for (const sut of settings.targets.filter((t) => t === 'full' || t === 'sluice')) {
    const cs = get('closed', sut)
    const cm = get('closed', 'minimal')
    if (cs && cm) {
      const cpuRatio = cm.cpu.sut.usPerRequest / cs.cpu.sut.usPerRequest
      out.push({
        name: `${sut}: closed loop, requests per CPU-second`, pass: cpuRatio >= TARGETS.cpuRatio, value: cpuRatio,
        text: `${f1(cs.cpu.sut.usPerRequest)} vs minimal ${f1(cm.cpu.sut.usPerRequest)} µs/req = ${pct(cpuRatio)} (target ≥ ${pct(TARGETS.cpuRatio)}); ${f0(cs.rps)} vs ${f0(cm.rps)} rps = ${pct(cs.rps / cm.rps)}`,
      })
    }
    const os = get('open', sut)
    const od = get('open', 'direct')
    if (os && od) {
      const p50 = os.latencyMs.p50 - od.latencyMs.p50
      const p99 = os.latencyMs.p99 - od.latencyMs.p99
      const loop = os.eventLoop?.p99 ?? Infinity
      out.push({
        name: `${sut}: open loop ${os.rate}/s`, pass: p50 <= TARGETS.addedP50Ms && p99 <= TARGETS.addedP99Ms && loop <= TARGETS.eventLoopP99Ms,
        text: `added p50 ${signed(p50)} ms (≤ ${TARGETS.addedP50Ms}), p99 ${signed(p99)} ms (≤ ${TARGETS.addedP99Ms}); event-loop delay p99 ${f2(loop)} ms (≤ ${TARGETS.eventLoopP99Ms}); ${f1(os.cpu.sut.usPerRequest)} µs/req`,
      })
    }
    const hs = get('open-high', sut)
    const hd = get('open-high', 'direct')
    if (hs && hd) {
      const p99 = hs.latencyMs.p99 - hd.latencyMs.p99
      const served = hs.errors.total === 0 && Math.abs(hs.rps - hs.rate) <= hs.rate * 0.02
      out.push({
        name: `${sut}: open loop ${hs.rate}/s`, pass: served && p99 <= TARGETS.highAddedP99Ms,
        text: `${f0(hs.rps)}/s served, ${hs.errors.total} errors; added p99 ${signed(p99)} ms (≤ ${TARGETS.highAddedP99Ms}); event-loop delay p99 ${f2(hs.eventLoop?.p99)} ms`,
      })
    }
    const ss = get('stream', sut)
    const sm = get('stream', 'minimal')
    if (ss && sm) {
      const ttfb = ss.firstByteMs.p50 - sm.firstByteMs.p50
      out.push({
        name: `${sut}: ${ss.connections} streams`, pass: ttfb <= TARGETS.streamAddedTtfbP50Ms,
        text: `time to first byte p50 ${signed(ttfb)} ms over the minimal proxy (≤ ${TARGETS.streamAddedTtfbP50Ms}); p99 ${f2(ss.firstByteMs.p99)} vs ${f2(sm.firstByteMs.p99)} ms; chunk gap p99 ${f2(ss.chunkGapMs.p99)} vs ${f2(sm.chunkGapMs.p99)} ms`,
      })
    }
    const idle = runs.filter((r) => r.target === sut).map((r) => r.idleRssMb)
    if (idle.length > 0) {
      const worst = Math.max(...idle)
      out.push({ name: `${sut}: idle RSS`, pass: worst <= TARGETS.idleRssMb, text: `${worst} MB after start and one request (≤ ${TARGETS.idleRssMb})` })
    }
  }
  return out
}

function gitInfo() {
  const rev = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).stdout?.trim() || null
  const dirty = (spawnSync('git', ['status', '--porcelain', '--', 'src'], { cwd: root, encoding: 'utf8' }).stdout ?? '').trim() !== ''
  return { rev, srcDirty: dirty }
}

// ---------- main ----------

async function main() {
  const machine = { nproc: cores, cpu: cpus()[0]?.model ?? 'unknown', node: process.version, clkTck, pinning: pinning.note }
  process.stdout.write(`sluice bench — ${machine.nproc} cores (${machine.cpu}), node ${machine.node}\n${pinning.note}\n`)
  mkdirSync(resultsDir, { recursive: true })

  if (profileMode) return profile()

  process.stdout.write(`warm-up ${settings.warmupS} s, measured ${settings.durationS} s per run; ${settings.scenarios.map((s) => SCENARIOS[s].label()).join('; ')}\n\n`)
  const runs = []
  runsLeft = settings.scenarios.length * settings.targets.length
  for (const scenario of settings.scenarios) {
    const sim = await startSimulator(SCENARIOS[scenario].upstream)
    try {
      for (const kind of settings.targets) {
        process.stdout.write(`  ${scenario}/${kind} … `)
        const r = await measure(scenario, kind, sim)
        runs.push(r)
        process.stdout.write(`${f0(r.rps)} rps, p50 ${f2(r.latencyMs.p50)} ms, ${r.errors.total} errors\n`)
      }
    } finally {
      await stop(sim.proc, 'simulator')
    }
  }

  const results = checks(runs)
  process.stdout.write('\n' + table(runs) + '\n\n')
  for (const c of results) process.stdout.write(`${!c.pass ? 'FAIL' : c.warn ? 'WARN' : 'PASS'}  ${c.name}: ${c.text}\n`)
  process.stdout.write('\nrps: requests completed per second in the measured window. SUT µs/req: CPU time (user+sys) of the system under test per request;\n' +
    'SUT core: its share of core 0. core1: simulator + load generator share of core 1. +p50/+p99: latency minus the direct run of the same scenario.\n' +
    `other: cores used by processes outside the bench during the window (! above ${CONTENDED_CORES}: the run is disturbed and its figures are suspect).\n`)

  const stamp = new Date().toISOString().replace(/[:.]/g, '-')
  const file = join(resultsDir, `bench-${stamp}.json`)
  const report = { date: new Date().toISOString(), command: 'npm run bench', machine, git: gitInfo(), settings, targets: TARGETS, sluiceConfig: sluiceConfig('http://127.0.0.1:SIM', 'PORT'), runs, checks: results }
  writeFileSync(file, JSON.stringify(report, null, 2) + '\n')
  writeFileSync(join(resultsDir, 'latest.json'), JSON.stringify(report, null, 2) + '\n')
  process.stdout.write(`\nfull figures: ${file}\n`)
  if (results.some((c) => !c.pass)) process.exitCode = 1
}

/** One closed-loop run against sluice under --cpu-prof; prints the top self-time functions. */
async function profile() {
  // The deployed configuration by default: that is where the cost is (BENCH_PROFILE_TARGET=sluice for anonymous callers).
  const profileTarget = process.env.BENCH_PROFILE_TARGET ?? 'full'
  if (profileTarget !== 'full' && profileTarget !== 'sluice') throw new Error('BENCH_PROFILE_TARGET is full or sluice')
  const dir = join(resultsDir, `profile-${new Date().toISOString().replace(/[:.]/g, '-')}`)
  mkdirSync(dir, { recursive: true })
  // BENCH_PROFILE_SCENARIO=stream profiles 100 concurrent streams instead of the closed loop.
  const streaming = process.env.BENCH_PROFILE_SCENARIO === 'stream'
  const sim = await startSimulator(streaming ? SCENARIOS.stream.upstream : { ttftMs: 0 })
  try {
    const target = await startTarget(profileTarget, sim.url, ['--cpu-prof', '--cpu-prof-dir', dir])
    try {
      await preflight(target.url, profileTarget, target.auth)
      const load = await runLoadProcess(['--url', target.url, '--auth', target.auth, '--mode', streaming ? 'stream' : 'closed', '--connections', String(streaming ? settings.streams : settings.connections),
        '--warmup', String(settings.warmupS), '--duration', String(settings.durationS), '--cpu-pids', `sut=${target.pid}`, '--clk-tck', String(clkTck)])
      process.stdout.write(`profiled ${streaming ? 'streams' : 'closed loop'}: ${f0(load.rps)} rps, ${f1(load.cpu.sut.usPerRequest)} µs/req (profiler overhead included), ${load.errors.total} errors\n`)
      await stop(target.proc, profileTarget)
      if (target.accessLog) rmSync(target.accessLog, { force: true })
    } finally {
      await stop(target.proc, 'sluice')
    }
  } finally {
    await stop(sim.proc, 'simulator')
  }
  const prof = readdirSync(dir).find((n) => n.endsWith('.cpuprofile'))
  if (!prof) throw new Error(`no .cpuprofile in ${dir}: did sluice exit cleanly?`)
  const summary = summariseProfile(join(dir, prof), { root, top: 25 })
  process.stdout.write('\n' + formatProfile(summary) + `\n\nprofile: ${join(dir, prof)} (open it in Chrome DevTools › Performance)\n`)
  writeFileSync(join(dir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n')
}

const cleanup = () => {
  for (const c of children) c.kill('SIGKILL')
  rmSync(tmp, { recursive: true, force: true })
}
process.once('SIGINT', () => {
  cleanup()
  process.exit(130)
})
// `pacing`, `concurrency`, `breaker`, `dashboard` and `cluster` run the scenarios of bench/pacing.js,
// bench/concurrency.js, bench/breaker-soak.js, bench/dashboard.js and bench/cluster.js instead; each starts and
// stops its own servers. `scrub` measures in process, no servers.
const run = pacingMode
  ? () => import('./pacing.js').then((m) => m.runPacing())
  : concurrencyMode
    ? () => import('./concurrency.js').then((m) => m.runConcurrency())
    : breakerMode
      ? () => import('./breaker-soak.js').then((m) => m.runBreakerSoak())
      : scrubMode
        ? () => import('./scrub.js').then((m) => m.runScrub())
        : dashboardMode
          ? () => import('./dashboard.js').then((m) => m.runDashboardBench())
          : soakMode
            ? () => import('./soak.js').then((m) => m.runSoak())
            : memoryMode
              ? () => import('./memory.js').then((m) => m.runMemory())
              : clusterMode
                ? () => import('./cluster.js').then((m) => m.runClusterBench())
                : main
run().then(cleanup, (err) => {
  cleanup()
  process.stderr.write(`bench failed: ${err.stack ?? err}\n`)
  process.exitCode = 1
})
