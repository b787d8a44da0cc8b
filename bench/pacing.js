// `npm run bench -- pacing`: the priority queue and the adaptive per-key pacer against the
// simulator, scenarios a–e of issue 6 (see bench/README.md, "Pacing", for what each figure means).
//
//   npm run bench -- pacing                                full run, ~7 minutes (a–d in parallel, then e)
//   PACING_MINUTES_FACTOR=0.1 npm run bench -- pacing      smoke run (~3 minutes: queued requests still drain in real time)
//   PACING_ONLY=b,e npm run bench -- pacing                a subset
//
// Limits are scaled UP to shorten nothing but the sampling error: the issue's 40-RPM key
// becomes 40 × PACING_SCALE RPM, while the algorithm's time constants (60 s windows, 5 s
// recovery steps, 10 s hold, max waits) stay real-time, so the runs last as long as the issue says.
//
// Environment: PACING_SCALE (limit multiplier, default 25: a 1,000-RPM key, ≤ 3,000 offered
// requests per minute per run), PACING_MINUTES_FACTOR (run length multiplier, default 1),
// PACING_ONLY (a,b,c,d,e; f, the 12-minute low-demand return of issue 14, only when named), PACING_PARALLEL (1: a–d in parallel child processes, the default;
// 0: one after the other), PACING_UPSTREAM_MS (simulator answer time, default 200),
// PACING_SEED (arrival schedule, default 1), PACING_C_ALGORITHMS (default
// token-bucket,fixed-window,sliding-log), PACING_D_MIX (urgent,high,normal,low shares, default 10,20,30,40).
//
// Every scenario run is a child process holding one simulator and one gateway (in process, the
// access log captured), with its own open-loop load generator (undici Pool, Poisson arrivals).
// Scenario e runs after the others, alone: a PoolQueue micro-benchmark and a gateway child
// process holding 10,000 waiting requests, both under `node --expose-gc`.
import { fork } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { availableParallelism, cpus, tmpdir, totalmem } from 'node:os'
import { dirname, join } from 'node:path'
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks'
import { spawnSync } from 'node:child_process'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { Pool, request } from 'undici'

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, '..')
const resultsDir = join(here, 'results')
const self = fileURLToPath(import.meta.url)

// ---------- settings ----------

const num = (name, def) => {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return def
  const v = Number(raw)
  if (!(v > 0)) throw new Error(`${name} must be a positive number, not "${raw}"`)
  return v
}
const list = (name, def) => (process.env[name] ?? def).split(',').map((s) => s.trim()).filter(Boolean)

function readSettings() {
  const s = {
    scale: num('PACING_SCALE', 5),
    minutesFactor: num('PACING_MINUTES_FACTOR', 1),
    only: list('PACING_ONLY', 'a,b,c,d,e'),
    parallel: process.env.PACING_PARALLEL !== '0',
    upstreamMs: num('PACING_UPSTREAM_MS', 200),
    seed: num('PACING_SEED', 1),
    cAlgorithms: list('PACING_C_ALGORITHMS', 'token-bucket,fixed-window,sliding-log'),
    dMix: list('PACING_D_MIX', '10,20,30,40').map(Number),
    bPhases: list('PACING_B_PHASES', '0,15,30,45').map(Number),
  }
  if (!s.bPhases.every((x) => x >= 0 && x < 60)) throw new Error('PACING_B_PHASES: seconds into the upstream minute, 0 ≤ x < 60')
  for (const x of s.only) if (!['a', 'b', 'c', 'd', 'e', 'f'].includes(x)) throw new Error(`PACING_ONLY: unknown scenario ${x}`)
  for (const x of s.cAlgorithms) if (!ALGORITHMS.includes(x)) throw new Error(`PACING_C_ALGORITHMS: unknown algorithm ${x}`)
  if (s.dMix.length !== 4 || !s.dMix.every((x) => x >= 0) || s.dMix.reduce((a, b) => a + b, 0) <= 0) throw new Error('PACING_D_MIX: four non-negative shares, urgent,high,normal,low')
  return s
}

const ALGORITHMS = ['token-bucket', 'fixed-window', 'sliding-log']
/** The issue's key: NVIDIA's free endpoints allow about 40 requests per minute. */
const BASE_RPM = 40
const PRIORITIES = ['urgent', 'high', 'normal', 'low']
/** sluice's default max wait per priority (queue.max_wait), ms. */
const MAX_WAIT_MS = [10_000, 30_000, 60_000, 120_000]
/** Client identities (Authorization) the load rotates through, so per_consumer (50) is not the only bound. */
const CLIENT_IDS = 20
/** How far past max wait + upstream time an answer may come (event loop, loopback) before it counts as late. */
const LATE_TOLERANCE_MS = 250

const TARGETS = {
  a429Pct: 1, // < 1 % of attempts after the first 30 s
  aServedPct: 95, // ≥ 95 % of the allowed rate after the first 30 s
  b429Pct: 1, // < 1 % of attempts over the last 2 minutes
  bServedPct: 93, // ≥ 93 % of the true limit over the last 2 minutes
  c429: 0, // no upstream 429 at all
  dUrgentP99Ms: 2000, // urgent p99 queue wait
  fBackMinutes: 10, // L̂ within 3 % of the limit this soon after demand returns
}

function scenarioPlans(s) {
  const L = Math.round(BASE_RPM * s.scale)
  const ms = (minutes) => Math.round(minutes * 60_000 * s.minutesFactor)
  const defaults = { upstreamMs: s.upstreamMs, seed: s.seed, queue: { max_size: 1000, per_consumer: 50, when_full: 'shed-lowest' }, mix: [0, 0, 1, 0] }
  const plans = []
  if (s.only.includes('a')) {
    plans.push({ ...defaults, id: 'a', scenario: 'a', algorithm: 'sliding-log', headers: 'none', retryAfter: false, trueRpm: L, configuredRpm: L, offered: 3, durationMs: ms(3), measureFromMs: ms(0.5) })
  }
  if (s.only.includes('b')) {
    for (const algorithm of ALGORITHMS) {
      // A fixed window counts per wall-clock minute, so where in its minute the load starts
      // decides what the first 60 s of successes say about the limit: one run per phase.
      const phases = algorithm === 'fixed-window' ? s.bPhases : [null]
      for (const phaseS of phases) {
        plans.push({
          ...defaults, id: `b-${algorithm}${phaseS === null ? '' : `@${phaseS}s`}`, scenario: 'b', algorithm, headers: 'none', retryAfter: false,
          trueRpm: L, configuredRpm: 2 * L, offered: 3, durationMs: ms(4), measureFromMs: ms(2), phaseS,
        })
      }
    }
  }
  if (s.only.includes('c')) {
    for (const algorithm of s.cAlgorithms) {
      plans.push({ ...defaults, id: `c-${algorithm}`, scenario: 'c', algorithm, headers: 'openai', retryAfter: true, trueRpm: L, configuredRpm: null, offered: 2, durationMs: ms(2), measureFromMs: 0 })
    }
  }
  if (s.only.includes('d')) {
    // Ten seconds of service: small enough that 3× overload fills it and shed-lowest acts.
    const maxSize = Math.max(20, Math.round((L / 60) * 10))
    const total = s.dMix.reduce((a, b) => a + b, 0)
    plans.push({
      ...defaults, id: 'd', scenario: 'd', algorithm: 'sliding-log', headers: 'none', retryAfter: false, trueRpm: L, configuredRpm: L, offered: 3,
      durationMs: ms(3), measureFromMs: 0, queue: { max_size: maxSize, per_consumer: maxSize, when_full: 'shed-lowest' }, mix: s.dMix.map((x) => x / total),
    })
  }
  if (s.only.includes('f')) {
    // Issue 14's faster return: two minutes at half the limit, unpaced (no rpm configured), end
    // in one RPM 429 (scripted: a sliding log cannot refuse that demand), so L̂ is what the key
    // was asked for; then 3× the limit. How long until L̂ is back within 3 % of the limit?
    plans.push({
      ...defaults, id: 'f-low-demand', scenario: 'f', algorithm: 'sliding-log', headers: 'none', retryAfter: false, trueRpm: L, configuredRpm: null, offered: 3,
      lowDemand: { rpm: Math.round(L / 2), ms: ms(2) }, durationMs: ms(12), measureFromMs: ms(10),
    })
  }
  return plans
}

// ---------- small helpers ----------

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

/** mulberry32: a seeded PRNG, so every run offers the same arrival schedule. */
function prng(seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Nearest rank: the smallest sample with at least p % of the samples at or below it. */
function percentile(sorted, p) {
  if (sorted.length === 0) return null
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]
}
const sortNum = (xs) => Float64Array.from(xs).sort()
const r1 = (x) => (x === null || x === undefined || !Number.isFinite(x) ? x ?? null : Math.round(x * 10) / 10)
const r2 = (x) => (x === null || x === undefined || !Number.isFinite(x) ? x ?? null : Math.round(x * 100) / 100)
const pct = (n, d) => (d > 0 ? (100 * n) / d : null)
const count = (obj, k) => (obj[k] = (obj[k] ?? 0) + 1)

function chatBody() {
  return Buffer.from(JSON.stringify({
    model: 'bench-model',
    messages: [{ role: 'user', content: 'Summarise in one sentence why a gateway should pace requests per key instead of retrying 429s blindly.' }],
    max_tokens: 16,
  }))
}

/** An access-log destination for pino: keeps the request lines, as text, parsed at the end. */
function captureAccessLog() {
  const lines = []
  return {
    lines,
    write(s) {
      for (const line of s.split('\n')) if (line.includes('"msg":"request"')) lines.push(line)
    },
  }
}

// ---------- child: one scenario run ----------

async function runScenario(plan) {
  const { startSimulator } = await import('../dist/simulator/index.js')
  const { startGateway } = await import('../dist/main.js')
  const { createLogger } = await import('../dist/telemetry/logger.js')
  const say = (text) => process.send?.({ type: 'progress', id: plan.id, text })

  const eld = monitorEventLoopDelay({ resolution: 10 })
  eld.enable()
  const cpu0 = process.cpuUsage()

  // The simulator's clock, shifted so that the load starts `phaseS` seconds into the upstream's
  // minute (fixed windows align to it); set just before the first request.
  let clockOffset = 0
  const sim = await startSimulator({
    port: 0,
    clock: { now: () => Date.now() + clockOffset },
    config: {
      latency: { ttft_ms: plan.upstreamMs },
      completion_tokens: 16,
      accept_unknown_keys: false,
      keys: { 'sk-up-1': { id: 'up-1', rpm: plan.trueRpm, algorithm: plan.algorithm, headers: plan.headers, retry_after: plan.retryAfter } },
    },
  })
  const access = captureAccessLog()
  const logger = createLogger({ level: 'info', destination: access })
  const gatewayConfig = {
    server: { host: '127.0.0.1', port: 0 },
    log: { level: 'info', access_log: true },
    providers: { sim: { type: 'openai', base_url: `${sim.url}/v1`, keys: [{ id: 'up-1', key: 'sk-up-1', rpm: plan.configuredRpm }] } },
    models: { 'bench-model': { targets: [{ provider: 'sim', model: 'sim-bench' }] } },
    queue: plan.queue,
  }
  const gw = await startGateway({ config: { value: gatewayConfig, label: `bench/pacing ${plan.id}` }, logger, port: 0, processMetrics: false, database: 'sqlite::memory:', watch: false })

  // The gateway holds a waiting request's connection open until it is dispatched, so client
  // concurrency = queue depth: more connections than the queue can hold, and timeouts above
  // the longest max wait.
  const connections = plan.queue.max_size + 300
  const pool = new Pool(gw.url, { connections, pipelining: 1, headersTimeout: 300_000, bodyTimeout: 300_000, keepAliveTimeout: 120_000, keepAliveMaxTimeout: 120_000 })
  const body = chatBody()

  const rng = prng(plan.seed * 7919 + plan.id.length * 31 + plan.id.charCodeAt(plan.id.length - 1))
  const ratePerMs = (plan.offered * plan.trueRpm) / 60_000
  const rateAt = (t) => (plan.lowDemand && t < plan.lowDemand.ms ? plan.lowDemand.rpm / 60_000 : ratePerMs)
  /** Poisson arrivals over the run, with a priority drawn from the mix. */
  const schedule = []
  for (let t = 0; ;) {
    t += -Math.log(1 - rng()) / rateAt(t)
    if (t >= plan.durationMs) break
    const u = rng()
    let p = 0
    for (let acc = plan.mix[0]; p < 3 && u >= acc; acc += plan.mix[++p]);
    schedule.push({ sched: t, p })
  }

  const records = []
  let outstanding = 0
  let maxOutstanding = 0
  let answered = 0
  const lateness = []

  const send = async (rec) => {
    rec.sentAt = performance.now()
    outstanding++
    if (outstanding > maxOutstanding) maxOutstanding = outstanding
    const headers = { 'content-type': 'application/json', authorization: `Bearer sk-client-${rec.i % CLIENT_IDS}` }
    if (plan.scenario === 'd') headers['x-priority'] = PRIORITIES[rec.p]
    try {
      const res = await pool.request({ path: '/v1/chat/completions', method: 'POST', headers, body })
      const text = await res.body.text()
      rec.status = res.statusCode
      rec.rid = res.headers['x-request-id'] ?? null
      if (res.statusCode !== 200) {
        rec.retryAfter = res.headers['retry-after'] ?? null
        try {
          const err = JSON.parse(text).error
          rec.code = err?.code ?? 'no_code'
          rec.shed = typeof err?.message === 'string' && err.message.includes('took this')
        } catch {
          rec.code = 'unparsable_body'
        }
      }
    } catch (err) {
      rec.status = -1
      rec.code = `client_${err.code ?? err.name ?? 'error'}`
    }
    rec.endAt = performance.now()
    outstanding--
    answered++
  }

  // Upstream attempts as the simulator saw them, pulled from its ring buffer by id as they finish.
  const upstream = []
  let lastSimId = 0
  const pullSim = () => {
    for (const r of sim.requests()) {
      if (r.id <= lastSimId) continue
      lastSimId = r.id
      upstream.push({ t: r.started_at - clockOffset - wall0, status: r.status })
    }
  }
  const samples = []
  const sampleStatus = async () => {
    try {
      const res = await request(`${gw.url}/status`)
      const st = await res.body.json()
      const p = st.pacers[0]
      const q = st.queues['bench-model'] ?? { waiting: 0, by_priority: {} }
      samples.push({
        t: Date.now() - wall0, state: p?.state ?? null, rate: p?.requests.rate_rpm ?? null, learned: p?.requests.learned_rpm ?? null,
        configured: p?.requests.configured_rpm ?? null, paused: p?.requests.paused_for_ms ?? 0, inflight: p?.in_flight ?? 0,
        r429: p ? Object.values(p.upstream_429).reduce((a, b) => a + b, 0) : 0, waiting: q.waiting, byPriority: q.by_priority,
        // What the pacer knows of a fixed window (issue 14): next boundary in ms, or null.
        window: p?.requests.fixed_window?.next_boundary_in_ms ?? null,
      })
    } catch (err) {
      samples.push({ t: Date.now() - wall0, error: String(err) })
    }
  }

  const wall0 = Date.now()
  if (plan.phaseS !== null && plan.phaseS !== undefined) clockOffset = (((plan.phaseS * 1000 - (wall0 % 60_000)) % 60_000) + 60_000) % 60_000
  const t0 = performance.now()
  const sampler = setInterval(() => void sampleStatus(), 1000)
  const puller = setInterval(pullSim, 2000)
  let lastProgress = 0
  const progress = (phase) => {
    pullSim()
    const now = Date.now() - wall0
    const recent = upstream.filter((u) => u.t >= lastProgress && u.t < now)
    const ok = recent.filter((u) => u.status === 200).length
    const r429 = recent.filter((u) => u.status === 429).length
    const s = samples.at(-1) ?? {}
    say(`${phase} ${(now / 1000).toFixed(0).padStart(3)} s: sent ${records.length}, answered ${answered}; upstream last ${((now - lastProgress) / 1000).toFixed(0)} s: ${((ok * 60_000) / Math.max(1, now - lastProgress)).toFixed(0)} ok/min, ${r429} × 429; pacer ${s.state ?? '?'} rate ${s.rate ?? '∞'} L̂ ${s.learned ?? '∞'} rpm; waiting ${s.waiting ?? '?'}`)
    lastProgress = now
  }
  const progressTimer = setInterval(() => progress('load '), 15_000)
  // f: the low-demand phase ends in one RPM 429, in OpenAI's words.
  let refusedAtMs = null
  const lowDemandEnd = plan.lowDemand
    ? setTimeout(() => {
      refusedAtMs = Date.now() - wall0
      sim.script([{ kind: 'error', status: 429, body: { error: { message: 'Rate limit reached for requests per min (RPM): Limit 100, Used 100, Requested 1.', type: 'requests', code: 'rate_limit_exceeded' } } }])
    }, plan.lowDemand.ms)
    : null

  // Open loop: every arrival leaves at its scheduled time whatever the replies do.
  const pending = []
  await new Promise((resolve) => {
    let next = 0
    const tick = () => {
      const now = performance.now() - t0
      while (next < schedule.length && schedule[next].sched <= now) {
        const { sched, p } = schedule[next]
        const rec = { i: next, p, sched, sentAt: 0, endAt: 0, status: 0, code: null, shed: false, rid: null }
        records.push(rec)
        lateness.push(now - sched)
        pending.push(send(rec))
        next++
      }
      if (next >= schedule.length) return resolve()
      setTimeout(tick, Math.max(1, Math.min(10, schedule[next].sched - now)))
    }
    tick()
  })
  const loadEndedMs = Date.now() - wall0
  clearInterval(progressTimer)
  if (lowDemandEnd) clearTimeout(lowDemandEnd)
  progress('load ')

  // Every request must end: wait for the queue to drain (at most the longest max wait + slack).
  const drainLimitMs = Math.max(...MAX_WAIT_MS) + 60_000
  const drainTimer = setInterval(() => progress('drain'), 15_000)
  const all = Promise.all(pending)
  const timedOut = await Promise.race([all.then(() => false), sleep(drainLimitMs).then(() => true)])
  clearInterval(drainTimer)
  clearInterval(sampler)
  clearInterval(puller)
  await sampleStatus()
  await sleep(200)
  pullSim()
  const simStats = sim.stats()
  const finalStatus = samples.at(-1)
  const cpu = process.cpuUsage(cpu0)
  eld.disable()

  await pool.close().catch(() => undefined)
  await gw.shutdown()
  await sim.close()

  const result = analyse(plan, { records, upstream, samples, access: access.lines.map((l) => JSON.parse(l)), loadEndedMs, timedOut, maxOutstanding, connections, lateness, simStats, finalStatus, refusedAtMs })
  result.process = {
    cpuSeconds: r2((cpu.user + cpu.system) / 1e6),
    wallSeconds: r1((performance.now() - t0) / 1000),
    // The histogram holds whole timer intervals: take the 10 ms resolution off to get the delay.
    eventLoopDelayMs: { p50: r2(eld.percentile(50) / 1e6 - 10), p99: r2(eld.percentile(99) / 1e6 - 10), max: r2(eld.max / 1e6 - 10) },
  }
  return result
}

/** Upstream attempts in [from, to) ms of the run: attempts, 200s, 429s, and the rates. */
function windowStats(upstream, from, to, allowedRpm) {
  let attempts = 0
  let ok = 0
  let r429 = 0
  let other = 0
  for (const u of upstream) {
    if (u.t < from || u.t >= to) continue
    attempts++
    if (u.status === 200) ok++
    else if (u.status === 429) r429++
    else other++
  }
  const minutes = (to - from) / 60_000
  return {
    fromS: r1(from / 1000), toS: r1(to / 1000), attempts, ok, r429, other,
    pct429: r2(pct(r429, attempts)), okPerMin: r1(ok / minutes), servedPct: allowedRpm ? r2(pct(ok / minutes, allowedRpm)) : null,
  }
}

/**
 * 429s grouped into clusters less than 2 s apart. One pacer episode (no success in between)
 * can span several clusters: its backoff probes come 1, 2, 4, 8 … s apart.
 */
function clusters429(upstream) {
  const out = []
  for (const u of upstream) {
    if (u.status !== 429) continue
    const last = out.at(-1)
    if (last && u.t - last.endMs < 2000) {
      last.endMs = u.t
      last.n++
    } else out.push({ atMs: u.t, endMs: u.t, n: 1 })
  }
  return out.map((e) => ({ atS: r1(e.atMs / 1000), lastS: r1(e.endMs / 1000), count: e.n }))
}

/** 15-second rows: upstream ok/min and 429s, and what the pacer said during the bucket. */
function timeline(upstream, samples, untilMs, stepMs = 15_000) {
  const rows = []
  for (let from = 0; from < untilMs; from += stepMs) {
    const to = Math.min(untilMs, from + stepMs)
    const w = windowStats(upstream, from, to, null)
    const inBucket = samples.filter((s) => !s.error && s.t >= from && s.t < to)
    const states = {}
    for (const s of inBucket) count(states, s.state)
    const last = inBucket.at(-1) ?? {}
    rows.push({
      fromS: from / 1000, toS: to / 1000, okPerMin: w.okPerMin, attempts: w.attempts, r429: w.r429,
      states, rateRpm: last.rate ?? null, learnedRpm: last.learned ?? null,
      minRateRpm: inBucket.length ? Math.min(...inBucket.map((s) => s.rate ?? Infinity)) : null,
      maxPausedMs: inBucket.length ? Math.max(...inBucket.map((s) => s.paused ?? 0)) : null,
      waiting: last.waiting ?? null,
    })
  }
  return rows
}

function analyse(plan, d) {
  const { records, upstream, samples, access, loadEndedMs } = d
  const D = plan.durationMs
  const client = { sent: records.length, answered: records.filter((r) => r.endAt > 0).length, byStatus: {}, byCode: {}, shed: 0 }
  for (const r of records) {
    count(client.byStatus, String(r.status))
    if (r.status !== 200) count(client.byCode, r.code ?? 'none')
    if (r.shed) client.shed++
  }
  client.unanswered = client.sent - client.answered
  client.maxOutstanding = d.maxOutstanding
  client.connections = d.connections
  client.drainTimedOut = d.timedOut
  const late = sortNum(d.lateness)
  client.sendLatenessMs = { p99: r2(percentile(late, 99)), max: r2(late.at(-1) ?? null) }
  client.clearEnding = records.every((r) => r.status === 200 || ((r.status === 503 || r.status === 429) && ['queue_full', 'queue_timeout', 'rate_limit_exceeded'].includes(r.code)))

  const allowed = plan.scenario === 'b' ? plan.trueRpm : plan.trueRpm
  const result = {
    plan,
    loadEndedS: r1(loadEndedMs / 1000),
    client,
    upstream: {
      whole: windowStats(upstream, 0, D, allowed),
      measured: windowStats(upstream, plan.measureFromMs, D, allowed),
      // Issue 14's second target for b: < 1 % of the attempts from 40 s on are refused.
      from40s: windowStats(upstream, 40_000, D, allowed),
      afterLoad: windowStats(upstream, D, Infinity, null),
      first429S: r1((upstream.find((u) => u.status === 429)?.t ?? NaN) / 1000),
      clusters429: clusters429(upstream.filter((u) => u.t < D)),
    },
    simulator: d.simStats.keys['up-1'] ?? null,
    pacerAtEnd: d.finalStatus,
    timeline: timeline(upstream, samples, D),
    samples,
  }
  if (plan.scenario === 'd') result.priorities = analysePriorities(plan, records, access)
  if (plan.scenario === 'f') result.lowDemand = analyseLowDemand(plan, d)
  return result
}

/**
 * Scenario f: L̂ when the scripted 429 taught it, and how long after demand returned (the end of
 * the low-demand phase) the /status samples first show it within 3 % of the limit; upstream 429s
 * from then on (the scripted one excluded).
 */
function analyseLowDemand(plan, d) {
  const back = plan.lowDemand.ms
  const ok = d.samples.filter((s) => !s.error && s.t >= back)
  const taught = ok.find((s) => s.learned !== null)
  const within = ok.find((s) => s.learned !== null && Math.abs(s.learned - plan.trueRpm) <= 0.03 * plan.trueRpm)
  const after = d.upstream.filter((u) => u.t >= back && u.t < plan.durationMs)
  return {
    refusedAtS: d.refusedAtMs === null ? null : r1(d.refusedAtMs / 1000),
    learnedAfter429: taught?.learned ?? null,
    backMinutes: within ? r2((within.t - back) / 60_000) : null,
    learnedAtEnd: ok.at(-1)?.learned ?? null,
    upstream429sAfterReturn: Math.max(0, after.filter((u) => u.status === 429).length - 1),
    attemptsAfterReturn: after.length,
    path: ok.filter((s, i) => i === 0 || s.learned !== ok[i - 1].learned).map((s) => ({ t: r1(s.t / 1000), learned: s.learned })),
  }
}

/**
 * Scenario d: queue waits per priority from the access log (`queuedMs`), whether an urgent or
 * high request was turned away (shed or refused) while a lower one waited, and whether every
 * request ended within its max wait.
 */
function analysePriorities(plan, records, access) {
  const byId = new Map(access.map((a) => [a.requestId, a]))
  const per = PRIORITIES.map((name) => ({ name, sent: 0, ok: 0, shed: 0, refusedFull: 0, timeout: 0, rateLimited: 0, other: 0, waits: [], clientWaits: [], maxExcessMs: -Infinity }))
  let unmatched = 0
  for (const r of records) {
    const s = per[r.p]
    s.sent++
    const a = r.rid ? byId.get(r.rid) : undefined
    if (!a) unmatched++
    const upstreamMs = a?.upstreamMs ?? 0
    const total = r.endAt - r.sentAt
    s.maxExcessMs = Math.max(s.maxExcessMs, total - MAX_WAIT_MS[r.p] - upstreamMs)
    if (r.status === 200) {
      s.ok++
      if (a) s.waits.push(a.queuedMs)
      s.clientWaits.push(total - upstreamMs)
    } else if (r.code === 'queue_full') {
      if (r.shed) {
        s.shed++
        if (a) s.waits.push(a.totalMs) // it waited until it was evicted
      } else s.refusedFull++
    } else if (r.code === 'queue_timeout') {
      s.timeout++
      if (a) s.waits.push(a.totalMs)
    } else if (r.code === 'rate_limit_exceeded') {
      s.rateLimited++
      if (a) s.waits.push(a.totalMs)
    } else s.other++
  }

  // Waiting intervals on the gateway's clock (access-log `time` is the end, `totalMs` back to arrival).
  const intervals = []
  const turnedAway = []
  for (const a of access) {
    const p = PRIORITIES.indexOf(a.priority)
    const arrive = a.time - a.totalMs
    if (a.status === 200 || a.error === 'rate_limit_exceeded') intervals.push({ p, from: arrive, to: arrive + a.queuedMs })
    else if (a.error === 'queue_timeout') intervals.push({ p, from: arrive, to: a.time })
    else if (a.error === 'queue_full') {
      // Shed requests waited until the eviction; refused ones never waited (totalMs ≈ 0).
      if (a.totalMs > 5) intervals.push({ p, from: arrive, to: a.time })
      if (p <= 1) turnedAway.push({ p, at: a.time, waitedMs: a.totalMs })
    }
  }
  // A lower-priority request waiting strictly across the instant (2 ms of clock slack either side).
  let violations = 0
  const examples = []
  for (const t of turnedAway) {
    const lower = intervals.find((iv) => iv.p > t.p && iv.from < t.at - 2 && iv.to > t.at + 2)
    if (lower) {
      violations++
      if (examples.length < 5) examples.push({ priority: PRIORITIES[t.p], at: t.at, lower: PRIORITIES[lower.p], lowerWaitedFrom: lower.from, lowerWaitedTo: lower.to })
    }
  }

  const summary = per.map((s) => {
    const w = sortNum(s.waits)
    const cw = sortNum(s.clientWaits)
    return {
      priority: s.name, sent: s.sent, ok: s.ok, shed: s.shed, refusedFull: s.refusedFull, timeout: s.timeout, rateLimited: s.rateLimited, other: s.other,
      maxWaitMs: MAX_WAIT_MS[PRIORITIES.indexOf(s.name)],
      queueWaitMs: { n: w.length, p50: r1(percentile(w, 50)), p99: r1(percentile(w, 99)), max: r1(w.at(-1) ?? null) },
      clientWaitServedMs: { p50: r1(percentile(cw, 50)), p99: r1(percentile(cw, 99)), max: r1(cw.at(-1) ?? null) },
      maxExcessOverMaxWaitMs: r1(s.maxExcessMs),
    }
  })
  return {
    mix: plan.mix, queueMaxSize: plan.queue.max_size, summary, unmatchedAccessLog: unmatched,
    urgentHighTurnedAway: turnedAway.length, urgentHighTurnedAwayWhileLowerWaited: violations, examples,
    maxExcessOverMaxWaitMs: r1(Math.max(...per.map((s) => s.maxExcessMs))),
    urgentWaits: urgentWaits(plan, access),
  }
}

/**
 * Why urgent requests wait: the key's slot interval, urgent's load against its DRR share
 * (8 of 15 while everything is backlogged), and for each served urgent request how many
 * urgent ones were ahead of it and how many lower ones were dispatched while it waited.
 */
function urgentWaits(plan, access) {
  const served = access
    .filter((a) => a.status === 200)
    .map((a) => ({ p: PRIORITIES.indexOf(a.priority), arrive: a.time - a.totalMs, wait: a.queuedMs }))
    .map((x) => ({ ...x, dispatch: x.arrive + x.wait }))
  const dispatches = served.map((x) => ({ p: x.p, at: x.dispatch })).sort((a, b) => a.at - b.at)
  const urgent = served.filter((x) => x.p === 0)
  const rows = urgent.map((u) => {
    const ahead = urgent.filter((v) => v !== u && v.arrive < u.arrive && v.dispatch > u.arrive).length
    const lowerDuring = dispatches.filter((d) => d.p > 0 && d.at > u.arrive && d.at < u.dispatch).length
    return { wait: u.wait, ahead, lowerDuring }
  })
  const summarise = (xs) => {
    const w = sortNum(xs.map((x) => x.wait))
    return { n: xs.length, p50: r1(percentile(w, 50)), p99: r1(percentile(w, 99)), max: r1(w.at(-1) ?? null), meanLowerDispatchedMeanwhile: r2(xs.reduce((a, x) => a + x.lowerDuring, 0) / Math.max(1, xs.length)) }
  }
  const paceRpm = 0.97 * (plan.configuredRpm ?? plan.trueRpm)
  const urgentRpm = plan.mix[0] * plan.offered * plan.trueRpm
  return {
    slotIntervalMs: r1(60_000 / paceRpm),
    urgentOfferedRpm: r1(urgentRpm),
    urgentDrrShareRpm: r1((8 / 15) * paceRpm),
    urgentLoadOnItsShare: r2(urgentRpm / ((8 / 15) * paceRpm)),
    noUrgentAhead: summarise(rows.filter((r) => r.ahead === 0)),
    urgentAhead: summarise(rows.filter((r) => r.ahead > 0)),
    maxUrgentAhead: rows.reduce((m, r) => Math.max(m, r.ahead), 0),
    maxLowerDispatchedMeanwhile: rows.reduce((m, r) => Math.max(m, r.lowerDuring), 0),
  }
}

// ---------- child: e1, PoolQueue micro-benchmark ----------

async function runQueueMicro() {
  const { PoolQueue, queueLinks } = await import('../dist/core/queue/index.js')
  if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc')
  const rng = prng(42)
  // Shaped like the scheduler's Waiter: a class whose fields all exist from the constructor on
  // (an object literal built by spreading would be a slower dictionary-mode object).
  class Entry {
    constructor(priority, consumer, cost) {
      Object.assign(this, queueLinks())
      this.priority = priority
      this.consumer = consumer
      this.weight = 1
      this.cost = cost
    }
  }
  const mkEntries = (n, consumers) => Array.from({ length: n }, (_, i) => new Entry(Math.min(3, Math.floor(rng() * 4)), `client-${i % consumers}`, 60 + Math.floor(rng() * 80)))
  const time = (n, fn) => {
    const t = process.hrtime.bigint()
    fn(n)
    return Number(process.hrtime.bigint() - t) / n
  }

  const sizes = [100, 1_000, 10_000]
  const ops = []
  for (const size of sizes) {
    for (const consumersPer of [10, 1]) {
      const consumers = Math.max(1, size / consumersPer)
      const entries = mkEntries(size, consumers)
      // A consumer that has nothing waiting in its priority yet (its one entry is in another band).
      const first = entries[0]
      const extra = new Entry((first.priority + 1) % 4, first.consumer, 100)
      const K = 200_000
      const fresh = Array.from({ length: K }, (_, i) => new Entry(i % 4, `newcomer-${i}`, 100))
      const best = { fill: Infinity, popPush: Infinity, peek: Infinity, removePush: Infinity, pushPop: Infinity, freshPushRemove: Infinity }
      for (let round = 0; round < 5; round++) {
        const q = new PoolQueue()
        best.fill = Math.min(best.fill, time(size, (n) => { for (let i = 0; i < n; i++) q.push(entries[i]) }))
        // Steady state at `size` waiting: serve the head, a new arrival joins (same entry object).
        best.popPush = Math.min(best.popPush, time(K, (n) => { for (let i = 0; i < n; i++) q.push(q.pop()) }))
        best.peek = Math.min(best.peek, time(K, (n) => { let x; for (let i = 0; i < n; i++) x = q.peek(); return x }))
        // A timeout, disconnect or eviction anywhere in the queue, then an arrival.
        best.removePush = Math.min(best.removePush, time(K, (n) => {
          for (let i = 0; i < n; i++) {
            const e = entries[(i * 7919) % size]
            q.remove(e)
            q.push(e)
          }
        }))
        // One consumer arrives and leaves again and again (a client sending one request at a
        // time): its state in the band is created and dropped each time.
        best.pushPop = Math.min(best.pushPop, time(K, (n) => { for (let i = 0; i < n; i++) { q.push(extra); q.remove(extra) } }))
        // The same with a different consumer every time.
        best.freshPushRemove = Math.min(best.freshPushRemove, time(K, (n) => { for (let i = 0; i < n; i++) { q.push(fresh[i]); q.remove(fresh[i]) } }))
        while (q.pop() !== undefined);
      }
      ops.push({ waiting: size, consumers, nsPerOp: { pushWhileFilling: r1(best.fill), popThenPush: r1(best.popPush), peek: r1(best.peek), removeThenPush: r1(best.removePush), sameConsumerPushRemove: r1(best.pushPop), newConsumerPushRemove: r1(best.freshPushRemove) } })
    }
  }

  const heap = () => {
    globalThis.gc()
    globalThis.gc()
    return process.memoryUsage().heapUsed
  }
  const memory = []
  for (const consumersPer of [10, 1]) {
    const n = 10_000
    const consumers = n / consumersPer
    const h0 = heap()
    const entries = mkEntries(n, consumers)
    const h1 = heap()
    const q = new PoolQueue()
    for (const e of entries) q.push(e)
    const h2 = heap()
    memory.push({ waiting: n, consumers, entryBytes: r1((h1 - h0) / n), queueBytesPerEntry: r1((h2 - h1) / n), size: q.size })
    while (q.pop() !== undefined);
  }
  return { ops, memory }
}

// ---------- child: e2, the gateway holding 10,000 waiting requests ----------

async function runGatewayChild(configFile) {
  const { startGateway } = await import('../dist/main.js')
  if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc')
  // Default logger: the access log goes to stdout, which the parent points at /dev/null.
  const gw = await startGateway({ config: { file: configFile }, port: 0, processMetrics: false, database: 'sqlite::memory:', watch: false })
  // Enabled only around the drain: its timer wakes the loop every 10 ms, which costs CPU.
  const eld = monitorEventLoopDelay({ resolution: 10 })
  // Garbage-collection time, to explain CPU spent while nothing but waiting happens.
  let gcMs = 0
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) gcMs += entry.duration
  }).observe({ entryTypes: ['gc'] })
  process.on('message', async (m) => {
    let reply
    if (m.cmd === 'measure') {
      if (m.gc) {
        globalThis.gc()
        globalThis.gc()
      }
      const mem = process.memoryUsage()
      const cpu = process.cpuUsage()
      reply = { mem, cpuUs: cpu.user + cpu.system, gcMs, eldMaxMs: eld.max / 1e6 - 10, at: performance.now() }
      if (m.eld === 'start') {
        eld.reset()
        eld.enable()
      } else if (m.eld === 'stop') eld.disable()
    } else if (m.cmd === 'reload') {
      writeFileSync(configFile, m.config)
      reply = gw.reload()
    } else if (m.cmd === 'stop') {
      await gw.shutdown()
      reply = { stopped: true }
    }
    process.send({ type: 'reply', seq: m.seq, reply })
    if (m.cmd === 'stop') process.exit(0)
  })
  process.send({ type: 'ready', url: gw.url })
}

function gatewayCostConfig(simUrl, rpm) {
  return JSON.stringify({
    server: { host: '127.0.0.1', port: 0, keep_alive_timeout: '120s' },
    log: { level: 'info', access_log: true },
    providers: { sim: { type: 'openai', base_url: `${simUrl}/v1`, keys: [{ id: 'up-1', key: 'sk-up-1', rpm }] } },
    models: { 'bench-model': { targets: [{ provider: 'sim', model: 'sim-bench' }] } },
    queue: { max_size: 20_000, per_consumer: 1_000, when_full: 'reject' },
  }, null, 2)
}

/** e2 (parent side): simulator and client here, the gateway alone in a child under --expose-gc. */
async function runGatewayCost(say) {
  const N = 10_000
  const HOLD_RPM = 4 // one dispatch, then the next slot ~15 s later: everything sent meanwhile waits
  const { startSimulator } = await import('../dist/simulator/index.js')
  const sim = await startSimulator({ port: 0, config: { latency: { ttft_ms: 5 }, completion_tokens: 16, accept_unknown_keys: true } })
  const tmp = mkdtempSync(join(tmpdir(), 'sluice-pacing-'))
  const configFile = join(tmp, 'sluice.json')
  writeFileSync(configFile, gatewayCostConfig(sim.url, null))
  const child = fork(self, ['--child-gateway', configFile], { execArgv: ['--expose-gc'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
  children.add(child)
  let seq = 0
  const replies = new Map()
  let ready
  const readyP = new Promise((r) => (ready = r))
  child.on('message', (m) => {
    if (m.type === 'ready') ready(m.url)
    else if (m.type === 'reply') replies.get(m.seq)?.(m.reply)
  })
  const ask = (cmd, extra = {}) => new Promise((resolve) => {
    const s = ++seq
    replies.set(s, resolve)
    child.send({ cmd, seq: s, ...extra })
  })
  const url = await Promise.race([readyP, sleep(15_000).then(() => { throw new Error('gateway child did not start') })])
  const pool = new Pool(url, { connections: N + 200, pipelining: 1, headersTimeout: 120_000, bodyTimeout: 120_000, keepAliveTimeout: 120_000, keepAliveMaxTimeout: 120_000 })
  const body = chatBody()
  const errors = {}
  const one = async (i) => {
    try {
      const res = await pool.request({ path: '/v1/chat/completions', method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer sk-client-${i % 1000}` }, body })
      await res.body.dump()
      if (res.statusCode !== 200) count(errors, `http_${res.statusCode}`)
      return res.statusCode
    } catch (err) {
      count(errors, err.code ?? err.name)
      return -1
    }
  }
  const burst = (n, offset = 0) => Promise.all(Array.from({ length: n }, (_, i) => one(offset + i)))
  const closed = async (n, conc) => {
    let next = 0
    await Promise.all(Array.from({ length: conc }, async () => {
      while (next < n) await one(next++)
    }))
  }
  const waiting = async () => {
    const res = await request(`${url}/status`)
    const st = await res.body.json()
    return st.queues['bench-model']?.waiting ?? 0
  }
  const mb = (m) => ({ heapUsed: m.heapUsed, rss: m.rss, external: m.external, arrayBuffers: m.arrayBuffers })
  const perReq = (a, b, n) => ({
    heapBytes: r1((b.mem.heapUsed - a.mem.heapUsed) / n), rssBytes: r1((b.mem.rss - a.mem.rss) / n),
    externalBytes: r1((b.mem.external - a.mem.external) / n),
  })

  try {
    say('warm-up: 2,000 requests, 100 at a time, unpaced')
    await closed(2_000, 100)
    const m0 = await ask('measure', { gc: true })

    say(`burst 1: ${N.toLocaleString('en-US')} requests at once, unpaced (opens the connections)`)
    let a = await ask('measure')
    let t = performance.now()
    await burst(N)
    let b = await ask('measure')
    const burst1 = { ms: r1(performance.now() - t), cpuUsPerRequest: r1((b.cpuUs - a.cpuUs) / N) }
    const m1 = await ask('measure', { gc: true })

    // GC makes one burst's CPU noisy (±20 %): three, and the median is the control.
    const controls = []
    for (let i = 0; i < 3; i++) {
      say(`control burst ${i + 1}/3: ${N.toLocaleString('en-US')} requests at once on open connections, unpaced (no queue)`)
      a = await ask('measure')
      t = performance.now()
      await burst(N)
      b = await ask('measure')
      controls.push({ ms: r1(performance.now() - t), cpuUsPerRequest: r1((b.cpuUs - a.cpuUs) / N), gcMs: r1(b.gcMs - a.gcMs) })
    }
    const burst2 = { ...[...controls].sort((x, y) => x.cpuUsPerRequest - y.cpuUsPerRequest)[1], all: controls.map((c) => c.cpuUsPerRequest) }

    say(`hold: reload with rpm ${HOLD_RPM}; one request takes the slot, the next is ~${(60 / (0.97 * HOLD_RPM)).toFixed(0)} s away`)
    const rel1 = await ask('reload', { config: gatewayCostConfig(sim.url, HOLD_RPM) })
    if (!rel1.ok) throw new Error(`reload failed: ${JSON.stringify(rel1)}`)
    const trigger = await one(0)
    const slotAt = performance.now() + 60_000 / (0.97 * HOLD_RPM)
    if (trigger !== 200) throw new Error(`trigger request answered ${trigger}`)
    const m2 = await ask('measure', { gc: true })

    say(`fill: ${N.toLocaleString('en-US')} requests from 1,000 client identities join the queue`)
    t = performance.now()
    const held = burst(N)
    let depth = 0
    while (performance.now() - t < 20_000) {
      depth = await waiting()
      if (depth >= N) break
      await sleep(100)
    }
    const fillMs = performance.now() - t
    const filled = await ask('measure')
    const m3 = await ask('measure', { gc: true })
    const fill = { ms: r1(fillMs), depth, cpuUsPerRequest: r1((filled.cpuUs - m2.cpuUs) / N), gcMs: r1(filled.gcMs - m2.gcMs) }
    say(`  ${depth.toLocaleString('en-US')} waiting after ${(fillMs / 1000).toFixed(1)} s; heap +${((m3.mem.heapUsed - m2.mem.heapUsed) / 1e6).toFixed(1)} MB, rss +${((m3.mem.rss - m2.mem.rss) / 1e6).toFixed(1)} MB`)

    // The new ceiling (none: unpaced) applies from the next slot, when the wake-up timer fires
    // and one pump dispatches all of them.
    const rel2 = await ask('reload', { config: gatewayCostConfig(sim.url, null) })
    if (!rel2.ok) throw new Error(`reload failed: ${JSON.stringify(rel2)}`)
    const idleFrom = await ask('measure')
    await sleep(Math.max(0, slotAt - performance.now() - 1500))
    const c2 = await ask('measure', { eld: 'start' })
    const idleUsPerS = ((c2.cpuUs - idleFrom.cpuUs) / (c2.at - idleFrom.at)) * 1000
    const idleGcMsPerS = ((c2.gcMs - idleFrom.gcMs) / (c2.at - idleFrom.at)) * 1000
    say(`drain: the slot opens in ${((slotAt - performance.now()) / 1000).toFixed(1)} s, then ${N.toLocaleString('en-US')} dispatches`)
    const statuses = await held
    const c3 = await ask('measure', { eld: 'stop' })
    const drainMs = performance.now() - slotAt
    const drainCpuUs = c3.cpuUs - c2.cpuUs - (idleUsPerS * (c3.at - c2.at)) / 1000
    const m4 = await ask('measure', { gc: true })
    const drain = {
      ms: r1(drainMs), ok: statuses.filter((s) => s === 200).length, cpuUsPerRequest: r1(drainCpuUs / N),
      eventLoopMaxBlockMs: r1(c3.eldMaxMs), gcMs: r1(c3.gcMs - c2.gcMs), idleCpuUsPerSecond: r1(idleUsPerS), idleGcMsPerSecond: r2(idleGcMsPerS),
    }
    await ask('stop')
    return {
      waiting: N, holdRpm: HOLD_RPM, errors,
      memory: {
        baselineBeforeConnections: mb(m0.mem), withIdleConnections: mb(m1.mem), beforeFill: mb(m2.mem), holding: mb(m3.mem), afterDrain: mb(m4.mem),
        perIdleConnection: perReq(m0, m1, N), perWaitingRequest: perReq(m2, m3, N),
      },
      cpu: { burstOpeningConnections: burst1, controlBurstNoQueue: burst2, fill, drain, queuedTotalUsPerRequest: r1(fill.cpuUsPerRequest + drain.cpuUsPerRequest), overheadUsPerRequest: r1(fill.cpuUsPerRequest + drain.cpuUsPerRequest - burst2.cpuUsPerRequest) },
    }
  } finally {
    await pool.close().catch(() => undefined)
    if (child.exitCode === null) child.kill('SIGKILL')
    await sim.close()
    rmSync(tmp, { recursive: true, force: true })
  }
}

// ---------- parent ----------

const children = new Set()

function forkChild(args, { execArgv = [], onProgress } = {}) {
  const child = fork(self, args, { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  children.add(child)
  return new Promise((resolve, reject) => {
    let result = null
    child.on('message', (m) => {
      if (m.type === 'progress') onProgress?.(m)
      else if (m.type === 'result') result = m.result
      else if (m.type === 'error') reject(new Error(m.stack))
    })
    child.once('exit', (code, signal) => {
      children.delete(child)
      if (result !== null) resolve(result)
      else reject(new Error(`child ${args.join(' ')} exited (${code ?? signal}) without a result`))
    })
  })
}

function childMain(fn) {
  if (!process.send) {
    // Run by hand (node --expose-gc bench/pacing.js --child-queue): print the result.
    fn().then((result) => process.stdout.write(JSON.stringify(result, null, 2) + '\n'))
    return
  }
  fn().then(
    (result) => process.send({ type: 'result', result }, () => process.exit(0)),
    (err) => process.send({ type: 'error', stack: String(err?.stack ?? err) }, () => process.exit(1)),
  )
}

const fmtPct = (x) => (x === null || x === undefined ? '-' : `${x.toFixed(2)} %`)
const fmtN = (x) => (x === null || x === undefined ? '-' : Math.round(x).toLocaleString('en-US'))

function checksFor(runs, e) {
  const out = []
  const add = (run, figure, target, value, pass, note = '') => out.push({ run, figure, target, value, pass, note })
  for (const r of runs) {
    const id = r.plan.id
    const c = r.client
    const ended = c.unanswered === 0 && !c.drainTimedOut && (c.byStatus['-1'] ?? 0) === 0
    if (r.plan.scenario === 'a') {
      add(id, 'upstream 429s, % of attempts after 30 s', '< 1 %', fmtPct(r.upstream.measured.pct429), r.upstream.measured.pct429 < TARGETS.a429Pct, `${r.upstream.measured.r429} of ${r.upstream.measured.attempts}`)
      add(id, 'served, % of the allowed rate after 30 s', '≥ 95 %', fmtPct(r.upstream.measured.servedPct), r.upstream.measured.servedPct >= TARGETS.aServedPct, `${r.upstream.measured.okPerMin} ok/min of ${r.plan.configuredRpm}`)
    }
    if (r.plan.scenario === 'b') {
      add(id, 'upstream 429s, % of attempts, last 2 min', '< 1 %', fmtPct(r.upstream.measured.pct429), r.upstream.measured.pct429 < TARGETS.b429Pct, `${r.upstream.measured.r429} of ${r.upstream.measured.attempts}`)
      add(id, 'served, % of the true limit, last 2 min', '≥ 93 %', fmtPct(r.upstream.measured.servedPct), r.upstream.measured.servedPct >= TARGETS.bServedPct, `${r.upstream.measured.okPerMin} ok/min of ${r.plan.trueRpm}`)
      add(id, 'upstream 429s, % of attempts from 40 s', '< 1 %', fmtPct(r.upstream.from40s.pct429), r.upstream.from40s.pct429 < TARGETS.b429Pct, `${r.upstream.from40s.r429} of ${r.upstream.from40s.attempts}`)
      add(id, 'upstream 429s, % of attempts, whole run', '(report)', fmtPct(r.upstream.whole.pct429), null, `${r.upstream.whole.r429} of ${r.upstream.whole.attempts}`)
    }
    if (r.plan.scenario === 'c') {
      add(id, 'upstream 429s, whole run', '0', fmtN(r.upstream.whole.r429), r.upstream.whole.r429 === TARGETS.c429, `of ${r.upstream.whole.attempts} attempts`)
      add(id, 'served, % of the limit, whole run', '(report)', fmtPct(r.upstream.whole.servedPct), null, `${r.upstream.whole.okPerMin} ok/min of ${r.plan.trueRpm}`)
    }
    if (r.plan.scenario === 'f') {
      const f = r.lowDemand
      add(id, 'minutes until L̂ within 3 % of the limit after demand returns', `≤ ${TARGETS.fBackMinutes} min`, f.backMinutes === null ? 'not reached' : `${f.backMinutes} min`, f.backMinutes !== null && f.backMinutes <= TARGETS.fBackMinutes,
        `L̂ ${f.learnedAfter429} after the 429 at ${f.refusedAtS} s, ${f.learnedAtEnd} at the end; ${f.path.map((x) => `${x.t} s: ${x.learned}`).join(', ')}`)
      add(id, 'upstream 429s after demand returned', '(report)', fmtN(f.upstream429sAfterReturn), null, `of ${fmtN(f.attemptsAfterReturn)} attempts`)
      add(id, 'served, % of the limit, last 2 min', '(report)', fmtPct(r.upstream.measured.servedPct), null, `${r.upstream.measured.okPerMin} ok/min of ${r.plan.trueRpm}`)
    }
    if (r.plan.scenario === 'd') {
      const p = r.priorities
      const u = p.summary[0]
      add(id, 'urgent p99 queue wait (access log queuedMs)', '≤ 2,000 ms', `${fmtN(u.queueWaitMs.p99)} ms`, u.queueWaitMs.p99 !== null && u.queueWaitMs.p99 <= TARGETS.dUrgentP99Ms, `n ${u.queueWaitMs.n}, p50 ${u.queueWaitMs.p50} ms, max ${u.queueWaitMs.max} ms`)
      add(id, 'urgent/high turned away while a lower one waited', '0', fmtN(p.urgentHighTurnedAwayWhileLowerWaited), p.urgentHighTurnedAwayWhileLowerWaited === 0,
        `urgent shed ${u.shed} refused ${u.refusedFull}; high shed ${p.summary[1].shed} refused ${p.summary[1].refusedFull}`)
      add(id, 'every request ended 200 / clear 503 / 429 within max wait', `excess ≤ ${LATE_TOLERANCE_MS} ms`, `${r1(p.maxExcessOverMaxWaitMs)} ms`, ended && c.clearEnding && p.maxExcessOverMaxWaitMs <= LATE_TOLERANCE_MS,
        `max (total − max wait − upstream time); ${Object.entries(c.byStatus).map(([s, n]) => `${s}: ${n}`).join(', ')}`)
    }
    add(id, 'every request answered (sent = answered)', 'all', `${fmtN(c.answered)} / ${fmtN(c.sent)}`, ended && c.clearEnding,
      `200 ${fmtN(c.byStatus['200'] ?? 0)}, 503 ${fmtN(c.byStatus['503'] ?? 0)}, 429 ${fmtN(c.byStatus['429'] ?? 0)}${Object.keys(c.byStatus).some((s) => !['200', '503', '429'].includes(s)) ? `, other ${JSON.stringify(c.byStatus)}` : ''}; ${Object.entries(c.byCode).map(([k, n]) => `${k} ${n}`).join(', ')}`)
  }
  if (e?.queue) {
    const at10k = e.queue.ops.find((o) => o.waiting === 10_000 && o.consumers === 1_000)
    if (at10k) add('e', 'PoolQueue at 10,000 waiting: pop + push / peek / remove + push', '(report)', `${at10k.nsPerOp.popThenPush} / ${at10k.nsPerOp.peek} / ${at10k.nsPerOp.removeThenPush} ns`, null, '1,000 consumers')
    const mem = e.queue.memory.find((m) => m.consumers === 1_000)
    if (mem) add('e', 'PoolQueue bytes per waiting entry (queue structure)', '(report)', `${mem.queueBytesPerEntry} B`, null, `+ ${mem.entryBytes} B for the bench's entry object`)
  }
  if (e?.gateway) {
    const g = e.gateway
    add('e', 'gateway heap per waiting request', '(report)', `${fmtN(g.memory.perWaitingRequest.heapBytes)} B`, null, `rss ${fmtN(g.memory.perWaitingRequest.rssBytes)} B; connection already open (idle connection: heap ${fmtN(g.memory.perIdleConnection.heapBytes)} B, rss ${fmtN(g.memory.perIdleConnection.rssBytes)} B)`)
    add('e', 'gateway CPU per request, queued vs not', '(report)', `${g.cpu.queuedTotalUsPerRequest} vs ${g.cpu.controlBurstNoQueue.cpuUsPerRequest} µs`, null,
      `fill ${g.cpu.fill.cpuUsPerRequest} + drain ${g.cpu.drain.cpuUsPerRequest} µs; overhead ${g.cpu.overheadUsPerRequest} µs/request; drain of ${fmtN(g.waiting)} took ${fmtN(g.cpu.drain.ms)} ms, longest event-loop block ${g.cpu.drain.eventLoopMaxBlockMs} ms`)
  }
  return out
}

function table(rows, headers) {
  const cells = [headers, ...rows]
  const widths = headers.map((_, c) => Math.max(...cells.map((row) => String(row[c]).length)))
  return cells.map((row, i) => row.map((cell, c) => String(cell).padEnd(widths[c])).join('  ').trimEnd() + (i === 0 ? '\n' + widths.map((w) => '-'.repeat(w)).join('  ') : '')).join('\n')
}

function timelineText(r) {
  const rows = r.timeline.map((t) => [
    `${t.fromS}–${t.toS}`, fmtN(t.okPerMin), fmtN(t.r429),
    Object.entries(t.states).map(([s, n]) => `${s}${n > 1 ? `×${n}` : ''}`).join(' '),
    t.rateRpm ?? '∞', t.minRateRpm === Infinity || t.minRateRpm === null ? '∞' : t.minRateRpm, t.learnedRpm ?? '∞', fmtN(t.maxPausedMs), fmtN(t.waiting),
  ])
  return table(rows, ['s', 'ok/min', '429s', 'pacer states (1 s samples)', 'rate', 'min rate', 'L̂', 'max paused ms', 'waiting'])
}

function gitInfo() {
  const rev = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).stdout?.trim() || null
  const dirty = (spawnSync('git', ['status', '--porcelain', '--', 'src'], { cwd: root, encoding: 'utf8' }).stdout ?? '').trim() !== ''
  return { rev, srcDirty: dirty }
}

export async function runPacing() {
  const settings = readSettings()
  const started = performance.now()
  const machine = { nproc: availableParallelism(), cpu: cpus()[0]?.model ?? 'unknown', memGB: Math.round(totalmem() / 2 ** 30), node: process.version }
  const plans = scenarioPlans(settings)
  const out = (s) => process.stdout.write(s + '\n')
  out(`sluice pacing bench — ${machine.nproc} cores (${machine.cpu}), node ${machine.node}`)
  out(`true limit ${BASE_RPM} × ${settings.scale} = ${BASE_RPM * settings.scale} RPM; run lengths × ${settings.minutesFactor}; upstream ${settings.upstreamMs} ms; ${plans.length} scenario runs ${settings.parallel ? 'in parallel' : 'one after the other'}${settings.only.includes('e') ? ', then e' : ''}`)
  for (const p of plans) {
    out(`  ${p.id.padEnd(18)} ${p.algorithm.padEnd(12)} headers ${p.headers.padEnd(6)} true ${p.trueRpm} rpm, configured ${p.configuredRpm ?? 'none'}, offered ${p.offered}× for ${(p.durationMs / 1000).toFixed(0)} s, queue ${p.queue.max_size}${p.scenario === 'd' ? `, mix ${p.mix.map((x) => Math.round(x * 100)).join('/')}` : ''}`)
  }
  mkdirSync(resultsDir, { recursive: true })

  const onProgress = (m) => out(`  [${m.id.padEnd(18)}] ${m.text}`)
  const runOne = (plan) => forkChild(['--child-scenario', JSON.stringify(plan)], { onProgress })
  let runs = []
  if (settings.parallel) runs = await Promise.all(plans.map(runOne))
  else for (const p of plans) runs.push(await runOne(p))

  let e = null
  if (settings.only.includes('e')) {
    e = {}
    out('  [e                 ] PoolQueue micro-benchmark (node --expose-gc)')
    e.queue = await forkChild(['--child-queue'], { execArgv: ['--expose-gc'] })
    out('  [e                 ] gateway holding 10,000 waiting requests (node --expose-gc)')
    e.gateway = await runGatewayCost((text) => out(`  [e                 ] ${text}`))
  }

  const checks = checksFor(runs, e)
  out('')
  out(table(checks.map((c) => [c.run, c.figure, c.target, c.value, c.pass === null ? '' : c.pass ? 'PASS' : 'FAIL', c.note]), ['run', 'figure', 'target', 'measured', 'result', 'detail']))
  out('')
  out(table(runs.map((r) => [
    r.plan.id, fmtN(r.client.sent), fmtN(r.upstream.whole.attempts), fmtN(r.upstream.whole.ok), fmtN(r.upstream.whole.r429), fmtPct(r.upstream.whole.servedPct),
    r.upstream.first429S ?? '-', r.upstream.clusters429.length, r.client.maxOutstanding, `${r.process.eventLoopDelayMs.p99} / ${r.process.eventLoopDelayMs.max}`, r.process.cpuSeconds,
  ]), ['run', 'client sent', 'upstream attempts', 'ok', '429', 'served % of true limit', 'first 429 s', '429 clusters', 'max outstanding', 'event loop p99/max ms', 'cpu s']))
  if (e?.queue) {
    out('')
    out('e: PoolQueue, ns per operation (best of 5 rounds of 200,000)')
    out(table(e.queue.ops.map((o) => [fmtN(o.waiting), fmtN(o.consumers), o.nsPerOp.pushWhileFilling, o.nsPerOp.popThenPush, o.nsPerOp.peek, o.nsPerOp.removeThenPush, o.nsPerOp.newConsumerPushRemove, o.nsPerOp.sameConsumerPushRemove]),
      ['waiting', 'consumers', 'push (filling)', 'pop + push', 'peek', 'remove + push', 'push + remove, new consumer each time', 'push + remove, same consumer again and again']))
    out(table(e.queue.memory.map((m) => [fmtN(m.waiting), fmtN(m.consumers), m.queueBytesPerEntry, m.entryBytes]), ['waiting', 'consumers', 'queue bytes/entry', 'entry object bytes']))
  }
  if (e?.gateway) {
    const g = e.gateway
    out('')
    out(`e: gateway (child process, access log to /dev/null), ${fmtN(g.waiting)} waiting requests, errors ${JSON.stringify(g.errors)}`)
    out(`  per waiting request: heap ${fmtN(g.memory.perWaitingRequest.heapBytes)} B, rss ${fmtN(g.memory.perWaitingRequest.rssBytes)} B, external ${fmtN(g.memory.perWaitingRequest.externalBytes)} B (connection already open)`)
    out(`  per idle client connection: heap ${fmtN(g.memory.perIdleConnection.heapBytes)} B, rss ${fmtN(g.memory.perIdleConnection.rssBytes)} B`)
    out(`  CPU µs/request: no-queue burst ${g.cpu.controlBurstNoQueue.cpuUsPerRequest} (median of ${g.cpu.controlBurstNoQueue.all.join(', ')}; opening connections: ${g.cpu.burstOpeningConnections.cpuUsPerRequest}); queued: arrival ${g.cpu.fill.cpuUsPerRequest} + drain ${g.cpu.drain.cpuUsPerRequest} = ${g.cpu.queuedTotalUsPerRequest}; overhead ${g.cpu.overheadUsPerRequest}`)
    out(`  drain of ${fmtN(g.waiting)}: ${fmtN(g.cpu.drain.ms)} ms from the slot to the last answer, ${g.cpu.drain.ok} ok; longest event-loop block ${g.cpu.drain.eventLoopMaxBlockMs} ms; GC ms: control burst ${g.cpu.controlBurstNoQueue.gcMs}, fill ${g.cpu.fill.gcMs}, drain ${g.cpu.drain.gcMs}`)
    out(`  idle while holding: ${g.cpu.drain.idleCpuUsPerSecond} µs CPU per second, of which GC ${g.cpu.drain.idleGcMsPerSecond} ms per second`)
  }
  for (const r of runs) {
    const failed = checks.some((c) => c.run === r.plan.id && c.pass === false)
    const starved = r.upstream.whole.servedPct !== null && r.upstream.whole.servedPct < 90 && r.plan.scenario !== 'b'
    if (r.plan.scenario !== 'b' && !failed && !starved) continue
    out('')
    out(`${r.plan.id}: upstream and pacer per 15 s${failed ? ' (a target was missed)' : starved ? ' (served < 90 % of the limit)' : ''}; 429s at (s): ${r.upstream.clusters429.map((x) => (x.count === 1 ? `${x.atS}` : `${x.atS}–${x.lastS} ×${x.count}`)).join(', ') || 'none'}`)
    out(timelineText(r))
  }
  for (const r of runs) {
    if (!r.priorities) continue
    const p = r.priorities
    const u = p.urgentWaits
    out('')
    out(`${r.plan.id}: per priority (queue waits from the access log; "client" = client-side time minus upstream time, served requests)`)
    out(table(p.summary.map((x) => [x.priority, fmtN(x.sent), fmtN(x.ok), x.shed, x.refusedFull, x.timeout, x.rateLimited, fmtN(x.maxWaitMs), `${fmtN(x.queueWaitMs.p50)} / ${fmtN(x.queueWaitMs.p99)} / ${fmtN(x.queueWaitMs.max)}`, `${fmtN(x.clientWaitServedMs.p50)} / ${fmtN(x.clientWaitServedMs.p99)}`, x.maxExcessOverMaxWaitMs]),
      ['priority', 'sent', '200', 'shed', 'refused (full)', 'timeout', '429', 'max wait ms', 'queue wait p50 / p99 / max ms', 'client p50 / p99 ms', 'max excess ms']))
    out(`  urgent: one slot every ${u.slotIntervalMs} ms; urgent offered ${u.urgentOfferedRpm}/min against its DRR share of ${u.urgentDrrShareRpm}/min (load ${u.urgentLoadOnItsShare});`)
    out(`  served urgent with no urgent ahead: n ${u.noUrgentAhead.n}, p50 ${u.noUrgentAhead.p50} ms, p99 ${u.noUrgentAhead.p99} ms, ${u.noUrgentAhead.meanLowerDispatchedMeanwhile} lower dispatched meanwhile on average;`)
    out(`  with urgent ahead: n ${u.urgentAhead.n}, p50 ${u.urgentAhead.p50} ms, p99 ${u.urgentAhead.p99} ms, max ${u.urgentAhead.max} ms, ${u.urgentAhead.meanLowerDispatchedMeanwhile} lower dispatched meanwhile on average; at most ${u.maxUrgentAhead} urgent ahead, at most ${u.maxLowerDispatchedMeanwhile} lower dispatched during one urgent wait`)
  }
  const wallS = (performance.now() - started) / 1000
  out('')
  out(`wall time ${(wallS / 60).toFixed(1)} min`)

  const stamp = new Date().toISOString().replace(/[:.]/g, '-')
  const file = join(resultsDir, `pacing-${stamp}.json`)
  const report = { date: new Date().toISOString(), command: 'npm run bench -- pacing', env: Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('PACING_'))), machine, git: gitInfo(), settings, targets: TARGETS, wallSeconds: r1(wallS), checks, runs, e }
  writeFileSync(file, JSON.stringify(report, null, 2) + '\n')
  writeFileSync(join(resultsDir, 'pacing-latest.json'), JSON.stringify(report, null, 2) + '\n')
  out(`full figures: ${file}`)
  if (checks.some((c) => c.pass === false)) process.exitCode = 1
}

const killChildren = () => {
  for (const c of children) c.kill('SIGKILL')
}
process.once('exit', killChildren)

if (process.argv[1] && pathToFileURL(process.argv[1]).href === import.meta.url) {
  const args = process.argv.slice(2)
  if (args[0] === '--child-scenario') childMain(() => runScenario(JSON.parse(args[1])))
  else if (args[0] === '--child-queue') childMain(runQueueMicro)
  else if (args[0] === '--child-gateway') {
    runGatewayChild(args[1]).catch((err) => {
      process.stderr.write(`gateway child failed: ${err?.stack ?? err}\n`)
      process.exit(1)
    })
  } else {
    runPacing().catch((err) => {
      process.stderr.write(`pacing bench failed: ${err?.stack ?? err}\n`)
      process.exitCode = 1
    })
  }
}
