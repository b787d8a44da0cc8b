// `npm run bench -- concurrency`: the learned per-key concurrency limit against the simulator
// (src/core/limit/concurrency-limit.ts; see bench/README.md, "Concurrency", for every figure).
//
//   npm run bench -- concurrency                             full run, ~5 minutes of wall time at K = 8
//   CONCURRENCY_ONLY=a,b npm run bench -- concurrency        a subset (d runs in c's gateway, so d implies c)
//   CONCURRENCY_ONLY=e,f npm run bench -- concurrency        the large caps only (100, 200)
//   CONCURRENCY_SPEEDUP=16 npm run bench -- concurrency      time runs 16 × faster for the gateway
//
// Time compression. The control law reads time only as wall-clock epoch ms from the gateway's
// `epoch` clock (GatewayOptions.epoch): the 5 s growth hold, the 10 quiet minutes before a probe
// and the minute between probes. The gateway runs with epoch = t0 + (now − t0) × K and the
// simulator answers in 2 s / K of real time, so in the gateway's own time a request takes ~2 s
// and every constant of the law is unchanged; only real-time overheads (loopback, event loop,
// the gateway's own per-request work) are K times larger relative to a request. Every time this
// bench reports is in that scaled time unless it says "real".
//
// Scenarios: a, b, c, e, f — a fresh limit (L = 8, nothing learned, its own simulator and gateway)
// against a key capped at 4, 10, 40, 100, 200, with 1.5 × cap + 10 closed-loop clients: time
// until floor(L) equals the cap and stays in [cap − 1, cap + 1] (cap + 1: a probe's one refused
// step), then a steady window (3 min) of upstream utilisation and concurrency 429s. e and f run
// at K = CONCURRENCY_SPEEDUP_LARGE (2): at K = 8 a cap of 200 would be 800 requests a second of
// real time through one event loop, which on a shared 2-core machine measures the event loop. d continues in c's gateway: the cap drops to 20 for 3 min,
// then returns to 40; time until floor(L) ≤ 20, then until it is back near 40.
//
// Environment: CONCURRENCY_SPEEDUP (K, default 8), CONCURRENCY_LATENCY_MS (request time in scaled
// ms, default 2000), CONCURRENCY_SPEEDUP_LARGE (K for e and f, default 2), CONCURRENCY_ONLY
// (a,b,c,d,e,f), CONCURRENCY_STEADY_MINUTES (3),
// CONCURRENCY_HOLD_MINUTES (how long the cap stays at 20, 3), CONCURRENCY_NEAR (what "back near
// 40" means, default 38), CONCURRENCY_MAX_REAL_S (the whole run's real-time bound, default 900).
import { mkdirSync, writeFileSync } from 'node:fs'
import { availableParallelism, cpus } from 'node:os'
import { dirname, join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Pool } from 'undici'

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, '..')
const resultsDir = join(here, 'results')

// ---------- settings ----------

const num = (name, def) => {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return def
  const v = Number(raw)
  if (!(v > 0)) throw new Error(`${name} must be a positive number, not "${raw}"`)
  return v
}

function readSettings() {
  const only = (process.env.CONCURRENCY_ONLY ?? 'a,b,c,d,e,f').split(',').map((x) => x.trim()).filter(Boolean)
  for (const x of only) if (!SCENARIOS.includes(x)) throw new Error(`CONCURRENCY_ONLY: unknown scenario ${x}`)
  if (only.includes('d') && !only.includes('c')) only.push('c')
  const s = {
    speedup: num('CONCURRENCY_SPEEDUP', 8),
    speedupLarge: num('CONCURRENCY_SPEEDUP_LARGE', 2),
    latencyMs: num('CONCURRENCY_LATENCY_MS', 2000),
    only: SCENARIOS.filter((x) => only.includes(x)),
    steadyMin: num('CONCURRENCY_STEADY_MINUTES', 3),
    holdMin: num('CONCURRENCY_HOLD_MINUTES', 3),
    near: num('CONCURRENCY_NEAR', 38),
    maxRealS: num('CONCURRENCY_MAX_REAL_S', 900),
  }
  if (s.latencyMs / Math.max(s.speedup, s.speedupLarge) < 20) throw new Error(`CONCURRENCY_LATENCY_MS / CONCURRENCY_SPEEDUP = ${s.latencyMs / s.speedup} ms of real time per request: below 20 ms the gateway's own overhead is no longer small against a request`)
  return s
}

const SCENARIOS = ['a', 'b', 'c', 'd', 'e', 'f']
const CAPS = { a: 4, b: 10, c: 40, e: 100, f: 200 }
/** The scenarios whose cap makes K = 8 too many real requests per second for one event loop. */
const LARGE = new Set(['e', 'f'])

const TARGETS = {
  convergeS: 120, // floor(L) equals the cap and stays in [cap − 1, cap + 1] within 2 min
  utilPct: 95, // mean upstream in flight ≥ 95 % of the cap over the steady window
  c429Pct: 1, // concurrency 429s < 1 % of upstream attempts over the steady window
  dropS: 60, // after 40 → 20: floor(L) ≤ 20 within 60 s
  restoreMin: 10, // after 20 → 40: floor(L) back near 40 within 10 min (issue 14; 30 before)
}

/** Phase budgets in scaled time: past one, the scenario is abandoned with a message. */
const BUDGETS = { convergeS: 240, dropS: 120, restoreS: 15 * 60 }
/** floor(L) must hold in [cap − 1, cap + 1] this long (scaled s) after reaching the cap before the steady window opens. */
const SETTLE_S = 15
const UPSTREAM_KEY = 'sk-up-conc-1'
const UPSTREAM_ID = 'up-1'
const PROVIDER = 'sim'
const LIMIT_ID = `${PROVIDER}~${UPSTREAM_ID}`
const ADMIN_KEY = 'bench-concurrency-admin-key'
const SAMPLE_MS = 100 // real
const SERIES_EVERY_S = 2 // scaled
const MAX_REQUESTS = 250_000 // client requests over the whole run: a bound, far above what the run needs
/** The law's constants, for the prediction printed next to the restore figure. */
const LAW = { initial: 8, backoff: 0.9, holdS: 5, probeQuietS: 120, probeEveryS: 60, probeShare: 0.1, slowStartAfterProbes: 2, slowStartGain: 1.5 }

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const r1 = (x) => (x === null || x === undefined || !Number.isFinite(x) ? x ?? null : Math.round(x * 10) / 10)
const r2 = (x) => (x === null || x === undefined || !Number.isFinite(x) ? x ?? null : Math.round(x * 100) / 100)
const r3 = (x) => (x === null || x === undefined || !Number.isFinite(x) ? x ?? null : Math.round(x * 1000) / 1000)
const pct = (n, d) => (d > 0 ? (100 * n) / d : null)
const clientsFor = (cap) => Math.ceil(1.5 * cap) + 10

class Abort extends Error {}

const CHAT_BODY = Buffer.from(JSON.stringify({
  model: 'bench-model',
  messages: [{ role: 'user', content: 'Say hello in one short sentence.' }],
  max_tokens: 16,
}))

// ---------- one simulator + gateway + closed-loop clients, sampled ----------

/**
 * Starts a simulator whose key allows `cap` in flight and a gateway in front of it whose epoch
 * clock runs K × faster, then samples both every 100 ms of real time.
 */
async function openRig(name, cap, s, runDeadline) {
  const { startSimulator } = await import('../dist/simulator/index.js')
  const { startGateway } = await import('../dist/main.js')
  const { createLogger } = await import('../dist/telemetry/logger.js')
  const K = s.speedup
  // A non-streamed answer arrives after ttft + (tokens − 1) × 1000 / tokens_per_second.
  const latencyReal = s.latencyMs / K
  const ttftMs = Math.round(0.4 * latencyReal)
  const tokensPerSecond = 15_000 / (latencyReal - ttftMs)
  const sim = await startSimulator({
    port: 0,
    host: '127.0.0.1',
    config: {
      latency: { ttft_ms: ttftMs, tokens_per_second: tokensPerSecond },
      completion_tokens: 16,
      accept_unknown_keys: false,
      keys: { [UPSTREAM_KEY]: { id: UPSTREAM_ID, max_concurrent: cap, headers: 'openai', retry_after: true } },
    },
  })
  const t0 = Date.now()
  const epoch = { now: () => t0 + (Date.now() - t0) * K }
  const warnings = []
  const logger = createLogger({ level: 'warn', destination: { write: (line) => void (warnings.length < 50 && warnings.push(line.trim())) } })
  const gatewayConfig = {
    server: { host: '127.0.0.1', port: 0 },
    log: { level: 'warn', access_log: false },
    // max_concurrent unset: adaptive. rpm and tpm unset: no pacing.
    providers: { [PROVIDER]: { type: 'openai', base_url: `${sim.url}/v1`, keys: [{ id: UPSTREAM_ID, key: UPSTREAM_KEY }] } },
    models: { 'bench-model': { targets: [{ provider: PROVIDER, model: 'sim-bench' }] } },
    // Every client waits in the queue (real time: the gateway's monotonic clock is not scaled).
    queue: { max_size: 1000, per_consumer: 50, when_full: 'reject', max_wait: { urgent: '600s', high: '600s', normal: '600s', low: '600s' } },
    admin: { keys: [ADMIN_KEY] },
  }
  const gw = await startGateway({ config: { value: gatewayConfig, label: `bench/concurrency ${name}` }, logger, port: 0, processMetrics: false, database: 'sqlite::memory:', watch: false, epoch })
  const ctl = new Pool(gw.url, { connections: 2 })
  // Simulator, gateway and clients share this event loop: its delay is real time that K magnifies.
  const eld = monitorEventLoopDelay({ resolution: 10 })
  eld.enable()
  const cpu0 = process.cpuUsage()
  const real0 = Date.now()

  const rig = {
    name, sim, gw, epoch, t0, K, warnings, gatewayConfig,
    simConfig: { ttftMs, tokensPerSecond: r3(tokensPerSecond), completionTokens: 16, latencyRealMs: latencyReal },
    /** Epoch ms (scaled) when the load started: scaled seconds are counted from here. */
    loadEpoch: null,
    cap,
    samples: [],
    records: [],
    recordsLost: 0,
    history: new Map(),
    events: [],
    clients: { target: 0, sent: 0, byStatus: {}, errors: {}, running: false, loops: [] },
    pool: null,
    abortReason: null,
  }
  /** Scaled seconds since the load started, for an epoch instant. */
  rig.scaledAt = (epochMs) => (epochMs - rig.loadEpoch) / 1000
  rig.scaledNow = () => rig.scaledAt(epoch.now())
  rig.realToScaled = (realMs) => rig.scaledAt(t0 + (realMs - t0) * K)

  const simKey = () => sim.stats().keys[UPSTREAM_ID]
  let seenFinished = 0
  rig.pullRecords = () => {
    const finished = sim.stats().totals.requests
    const fresh = finished - seenFinished
    if (fresh <= 0) return
    // The log lists the last 10,000 finished requests in the order they finished.
    const list = sim.requests()
    if (fresh > list.length) rig.recordsLost += fresh - list.length
    for (const r of list.slice(Math.max(0, list.length - fresh))) rig.records.push({ s: r.started_at, e: r.ended_at, status: r.status })
    seenFinished = finished
  }

  const getJson = async (path, headers = {}) => {
    const res = await ctl.request({ path, method: 'GET', headers })
    const body = await res.body.json()
    if (res.statusCode !== 200) throw new Error(`GET ${path}: ${res.statusCode} ${JSON.stringify(body)}`)
    return body
  }
  const pollHistory = async () => {
    const st = await getJson(`/api/admin/adaptive/keys/${LIMIT_ID}/stats`, { authorization: `Bearer ${ADMIN_KEY}` })
    for (const a of st.recent_adjustments) rig.history.set(`${a.timestamp}|${a.old_limit}|${a.new_limit}|${a.reason}|${a.inflight}`, a)
    rig.lastStats = st
  }

  const listeners = new Set()
  let sampling = true
  let lastSeriesT = -Infinity
  rig.series = []
  const sampleOnce = async (i) => {
    const real = Date.now()
    const k = simKey()
    const st = await getJson('/status')
    const lim = st.concurrency.find((l) => l.id === LIMIT_ID) ?? null
    const smp = {
      real,
      t: rig.loadEpoch === null ? null : rig.realToScaled(real),
      floorL: lim?.learned_limit ?? null,
      exact: lim?.learned_exact ?? null,
      accepted: lim?.accepted_level ?? null,
      effective: lim?.effective_limit ?? null,
      gwInFlight: lim?.in_flight ?? null,
      c429: lim?.concurrent_429_count ?? 0,
      simInFlight: k.in_flight,
      simCap: rig.cap,
      waiting: st.queues?.['bench-model']?.waiting ?? 0,
    }
    rig.samples.push(smp)
    if (smp.t !== null && smp.t - lastSeriesT >= SERIES_EVERY_S) {
      lastSeriesT = smp.t
      rig.series.push({ t: r1(smp.t), cap: rig.cap, floorL: smp.floorL, L: smp.exact, C: smp.accepted, gwInFlight: smp.gwInFlight, simInFlight: smp.simInFlight, waiting: smp.waiting, c429: smp.c429 })
    }
    if (i % 3 === 0) await pollHistory()
    if (i % 10 === 0) rig.pullRecords()
    return smp
  }
  const loop = (async () => {
    for (let i = 0; sampling; i++) {
      const started = Date.now()
      try {
        const smp = await sampleOnce(i)
        for (const fn of listeners) fn(smp)
      } catch (err) {
        rig.abortReason ??= `sampling failed: ${err.message ?? err}`
      }
      if (Date.now() > runDeadline) rig.abortReason ??= `the run's real-time bound (CONCURRENCY_MAX_REAL_S = ${s.maxRealS} s) is reached`
      if (rig.clients.sent >= MAX_REQUESTS) rig.abortReason ??= `the client request bound (${MAX_REQUESTS}) is reached`
      if (rig.abortReason) for (const fn of listeners) fn(null)
      await sleep(Math.max(0, SAMPLE_MS - (Date.now() - started)))
    }
  })()

  /**
   * Resolves with the first sample that satisfies `pred`, or null once `budgetS` scaled seconds
   * pass from now; rejects when the run must stop.
   */
  rig.waitFor = (pred, budgetS) => new Promise((resolve, reject) => {
    const until = rig.scaledNow() + budgetS
    const fn = (smp) => {
      if (smp === null) {
        listeners.delete(fn)
        return reject(new Abort(rig.abortReason))
      }
      if (smp.t === null) return
      if (pred(smp)) {
        listeners.delete(fn)
        resolve(smp)
      } else if (smp.t >= until) {
        listeners.delete(fn)
        resolve(null)
      }
    }
    listeners.add(fn)
  })
  rig.sleepScaled = (seconds) => rig.waitFor(() => false, seconds)

  rig.setCap = (cap) => {
    sim.configure({ keys: { [UPSTREAM_KEY]: { max_concurrent: cap } } })
    rig.cap = cap
    const ev = { what: `cap → ${cap}`, real: Date.now(), epoch: epoch.now() }
    rig.events.push(ev)
    return ev
  }

  /** Upstream counters at this instant (in process, synchronous). */
  rig.mark = () => {
    const k = simKey()
    return { real: Date.now(), epoch: epoch.now(), requests: k.requests, ok: k.ok, concurrent: k.rate_limited.concurrent, other429: k.rate_limited.rpm + k.rate_limited.tpm, errors: k.errors }
  }

  /** Closed loop: each client sends its next request when the answer to the last one is in. */
  rig.startLoad = (n) => {
    const c = rig.clients
    c.target = n
    c.running = true
    rig.pool ??= new Pool(gw.url, { connections: Math.max(200, n + 10), pipelining: 1, headersTimeout: 700_000, bodyTimeout: 700_000 })
    rig.loadEpoch ??= epoch.now()
    rig.loadReal ??= Date.now()
    const run = async (i) => {
      const headers = { 'content-type': 'application/json', authorization: `Bearer sk-client-${i}` }
      while (c.running && i < c.target && c.sent < MAX_REQUESTS) {
        c.sent++
        try {
          const res = await rig.pool.request({ path: '/v1/chat/completions', method: 'POST', headers, body: CHAT_BODY })
          const text = await res.body.text()
          c.byStatus[res.statusCode] = (c.byStatus[res.statusCode] ?? 0) + 1
          if (res.statusCode !== 200) {
            let code = 'unparsable'
            try {
              code = JSON.parse(text).error?.code ?? 'no_code'
            } catch { /* counted as unparsable */ }
            c.errors[code] = (c.errors[code] ?? 0) + 1
            await sleep(50)
          }
        } catch (err) {
          const code = `client_${err.code ?? err.name ?? 'error'}`
          c.errors[code] = (c.errors[code] ?? 0) + 1
          await sleep(50)
        }
      }
    }
    for (let i = c.loops.length; i < n; i++) c.loops.push(run(i))
  }

  /** Stops the clients (each finishes its request), the sampler, the gateway and the simulator. */
  rig.close = async () => {
    const c = rig.clients
    c.running = false
    const drained = await Promise.race([Promise.all(c.loops).then(() => true), sleep(30_000).then(() => false)])
    sampling = false
    await loop
    rig.pullRecords()
    rig.finalMark = rig.mark()
    eld.disable()
    const cpu = process.cpuUsage(cpu0)
    // The histogram holds whole timer intervals: take the 10 ms resolution off to get the delay.
    rig.process = {
      cpuSeconds: r2((cpu.user + cpu.system) / 1e6), realSeconds: r1((Date.now() - real0) / 1000),
      eventLoopDelayMs: { p50: r2(eld.percentile(50) / 1e6 - 10), p99: r2(eld.percentile(99) / 1e6 - 10), max: r2(eld.max / 1e6 - 10) },
    }
    if (rig.pool) await (drained ? rig.pool.close() : rig.pool.destroy()).catch(() => undefined)
    await ctl.close().catch(() => undefined)
    rig.gatewayClean = await gw.shutdown()
    await sim.close()
    rig.drained = drained
  }
  return rig
}

// ---------- analysis ----------

/**
 * floor(L) over time from the limit's own history (exact epoch instants, from the admin API's
 * recent_adjustments polled every 300 ms real), or null when a change was missed.
 */
const FLOOR_REASONS = new Set(['concurrent_429', 'overshoot_429', 'high_utilization', 'slow_start', 'probe_untested'])
function floorSteps(rig) {
  const entries = [...rig.history.values()]
    // A slow_start entry from a level to itself marks slow start beginning again, not a move of L.
    .filter((a) => FLOOR_REASONS.has(a.reason) && a.old_limit !== a.new_limit)
    .map((a) => ({ epoch: Date.parse(a.timestamp), from: a.old_limit, to: a.new_limit, reason: a.reason, inflight: a.inflight }))
    .sort((x, y) => x.epoch - y.epoch)
  let level = LAW.initial
  for (const e of entries) {
    if (e.from !== level) return { steps: entries, complete: false }
    level = e.to
  }
  return { steps: entries, complete: true }
}

function probes(rig) {
  return [...rig.history.values()].filter((a) => a.reason === 'probe_increase')
    .map((a) => ({ t: r1(rig.scaledAt(Date.parse(a.timestamp))), from: a.old_limit, to: a.new_limit }))
    .sort((x, y) => x.t - y.t)
}

/** floor(L) as a list of [scaled t, level] points from load start up to `untilT`. */
function floorTimeline(rig, untilT) {
  const h = floorSteps(rig)
  if (h.complete) {
    const pts = [[0, LAW.initial]]
    for (const e of h.steps) {
      const t = rig.scaledAt(e.epoch)
      if (t <= untilT) pts.push([t, e.to])
    }
    return { source: 'history', pts }
  }
  return { source: 'samples', pts: rig.samples.filter((x) => x.t !== null && x.t <= untilT && x.floorL !== null).map((x) => [x.t, x.floorL]) }
}

/**
 * The first instant from which floor(L) equals the cap and then stays in [cap − 1, cap + 1] until
 * `untilT`, or null; and the lowest and highest floor(L) from then on. cap + 1 is a probe: the law
 * raises L one step above the cap, the upstream refuses that one request, and L is back at the cap.
 */
function convergence(rig, cap, untilT) {
  const { source, pts } = floorTimeline(rig, untilT)
  let at = null
  for (const [t, level] of pts) {
    if (level < cap - 1 || level > cap + 1) at = null
    else if (at === null && level === cap) at = t
  }
  const after = at === null ? [] : pts.filter(([t]) => t >= at).map(([, l]) => l)
  return { at, source, minAfter: after.length ? Math.min(...after) : null, maxAfter: after.length ? Math.max(...after) : null }
}

/** First instant in (fromT, untilT] at which floor(L) satisfies `pred`. */
function firstWhen(rig, pred, fromT, untilT) {
  const { source, pts } = floorTimeline(rig, untilT)
  let level = null
  for (const [t, l] of pts) {
    if (t <= fromT) {
      level = l
      continue
    }
    if (pred(l)) return { t, level: l, source }
  }
  return { t: level !== null && pred(level) ? fromT : null, level, source }
}

/** Upstream over a window of real time: utilisation from the per-request records, 429s from the counters. */
function upstreamWindow(rig, a, b, cap) {
  const ws = a.real
  const we = b.real
  let busy = 0
  let attempts = 0
  let ok = 0
  let c429 = 0
  for (const r of rig.records) {
    if (r.status === 200) busy += Math.max(0, Math.min(r.e, we) - Math.max(r.s, ws))
    if (r.s < ws || r.s >= we) continue
    attempts++
    if (r.status === 200) ok++
    else if (r.status === 429) c429++
  }
  const inWindow = rig.samples.filter((x) => x.real >= ws && x.real < we)
  const sampled = inWindow.length ? inWindow.reduce((acc, x) => acc + x.simInFlight, 0) / inWindow.length : null
  const floors = inWindow.map((x) => x.floorL).filter((x) => x !== null)
  const d = { attempts: b.requests - a.requests, ok: b.ok - a.ok, concurrent: b.concurrent - a.concurrent, other429: b.other429 - a.other429, errors: b.errors - a.errors }
  return {
    fromS: r1(rig.scaledAt(a.epoch)), toS: r1(rig.scaledAt(b.epoch)), scaledSeconds: r1((b.epoch - a.epoch) / 1000), realSeconds: r1((we - ws) / 1000),
    cap,
    utilPct: r2(pct(busy / (we - ws), cap)),
    utilSampledPct: r2(pct(sampled, cap)),
    meanInFlight: r2(busy / (we - ws)),
    // Slot time the upstream allowed but nothing used, per answered request: the turnaround from
    // one answer to the next request's admission (loopback, gateway, event loop), in real ms.
    idleRealMsPerRequest: ok > 0 ? r2((cap * (we - ws) - busy) / ok) : null,
    counters: d,
    concurrent429Pct: r3(pct(d.concurrent, d.attempts)),
    records: { attempts, ok, c429 },
    okPerScaledSecond: r2(d.ok / ((b.epoch - a.epoch) / 1000)),
    floorL: floors.length ? { min: Math.min(...floors), max: Math.max(...floors) } : null,
  }
}

/**
 * What the law predicts after the cap returns, with no 429 meanwhile and no probe refused while
 * the cap was low: the first probe comes 2 quiet minutes after the last 429 (not before the
 * return), the second a minute later, each raising Ĉ by max(1, floor(10 %)); L follows a raised
 * Ĉ at 1/L per saturated success, about 0.5 per second at 2 s per request. Two probes taken
 * start slow start: × 1.5 per request time until the threshold. A probe refused while the cap
 * was still low doubles the quiet time: that case is reported as measured, not predicted.
 */
function predictRestore({ restoreT, last429T, c0, threshold, latencyS }) {
  let t = Math.max(restoreT, last429T + LAW.probeQuietS)
  const firstProbeAfterMin = r2((t - restoreT) / 60)
  let c = c0
  for (let i = 0; i < LAW.slowStartAfterProbes; i++) {
    const prev = c
    c += Math.max(1, Math.floor(LAW.probeShare * c))
    if (c >= threshold) return { minutes: r2((t - restoreT + (threshold - prev) * latencyS) / 60), probes: i + 1, firstProbeAfterMin }
    if (i + 1 < LAW.slowStartAfterProbes) t += LAW.probeEveryS
  }
  t += (c - c0 - Math.max(1, Math.floor(LAW.probeShare * c0))) * latencyS
  let l = c
  while (l < threshold) {
    l *= LAW.slowStartGain
    t += latencyS
  }
  return { minutes: r2((t - restoreT) / 60), probes: LAW.slowStartAfterProbes, firstProbeAfterMin }
}

// ---------- scenarios ----------

function progress(rig, label) {
  const x = rig.samples.at(-1)
  if (!x || x.t === null) return
  const elapsed = ((Date.now() - rig.loadReal) / 1000).toFixed(0)
  process.stdout.write(`  ${label.padEnd(10)} t ${x.t.toFixed(0).padStart(5)} s (real ${elapsed.padStart(3)} s)  cap ${String(rig.cap).padStart(2)}  floor(L) ${String(x.floorL).padStart(3)}  L ${Number(x.exact).toFixed(2).padStart(6)}  Ĉ ${String(x.accepted ?? '–').padStart(3)}  in flight gw ${String(x.gwInFlight).padStart(3)} sim ${String(x.simInFlight).padStart(3)}  waiting ${String(x.waiting).padStart(3)}  429s ${x.c429}\n`)
}

function withProgress(rig, label, p) {
  const timer = setInterval(() => progress(rig, label), 5000)
  return p.finally(() => clearInterval(timer))
}

/** a, b, c: a fresh limit against `cap`, until floor(L) settles at the cap, then the steady window. */
async function capScenario(rig, id, cap, s, out) {
  const result = { id, cap, clients: clientsFor(cap), converged: null, steady: null, failure: null }
  out.push(result)
  rig.startLoad(clientsFor(cap))
  const startT = rig.scaledNow()
  let candidate = null
  const settled = await withProgress(rig, `${id} cap ${cap}`, rig.waitFor((x) => {
    const f = x.floorL
    if (f === null || f < cap - 1 || f > cap + 1) candidate = null
    else if (candidate === null && f === cap) candidate = x.t
    return candidate !== null && x.t - candidate >= SETTLE_S
  }, BUDGETS.convergeS))
  if (settled === null) {
    const x = rig.samples.at(-1)
    result.failure = `floor(L) did not settle at ${cap} within the ${BUDGETS.convergeS} s budget (now floor(L) ${x?.floorL}, L ${x?.exact}, Ĉ ${x?.accepted}); scenario abandoned`
    process.stdout.write(`  ${id}: ${result.failure}\n`)
    return result
  }
  const a = rig.mark()
  await withProgress(rig, `${id} steady`, rig.sleepScaled(s.steadyMin * 60))
  const b = rig.mark()
  result.window = { a, b, startT }
  return result
}

/** d, in c's gateway: the cap drops to 20 for CONCURRENCY_HOLD_MINUTES, then returns to 40. */
async function dropScenario(rig, s, out) {
  const result = { id: 'd', failure: null }
  out.push(result)
  const before = rig.samples.at(-1)
  result.atDrop = { floorL: before.floorL, L: before.exact, C: before.accepted }
  const drop = rig.setCap(20)
  result.dropT = rig.scaledAt(drop.epoch)
  result.m0 = rig.mark()
  const low = await withProgress(rig, 'd cap 20', rig.waitFor((x) => x.floorL !== null && x.floorL <= 20, BUDGETS.dropS))
  if (low === null) {
    result.failure = `floor(L) still above 20 ${BUDGETS.dropS} s after the drop; scenario abandoned`
    process.stdout.write(`  d: ${result.failure}\n`)
    return result
  }
  await withProgress(rig, 'd cap 20', rig.waitFor((x) => x.t >= result.dropT + s.holdMin * 60, s.holdMin * 60 + 10))
  result.m1 = rig.mark()
  const atRestore = rig.samples.at(-1)
  result.atRestore = { floorL: atRestore.floorL, L: atRestore.exact, C: atRestore.accepted, last429At: rig.lastStats?.last_429_at ?? null }
  const restore = rig.setCap(40)
  result.restoreT = rig.scaledAt(restore.epoch)
  const near = await withProgress(rig, 'd cap 40', rig.waitFor((x) => x.floorL !== null && x.floorL >= s.near, BUDGETS.restoreS))
  if (near !== null) {
    const left = BUDGETS.restoreS - (rig.scaledNow() - result.restoreT)
    await withProgress(rig, 'd cap 40', rig.waitFor((x) => x.floorL !== null && x.floorL >= 40, Math.max(0, left)))
  } else {
    result.failure = `floor(L) not back to ${s.near} within ${BUDGETS.restoreS / 60} min of the cap's return; scenario stopped there`
    process.stdout.write(`  d: ${result.failure}\n`)
  }
  await rig.sleepScaled(5)
  result.m2 = rig.mark()
  return result
}

function analyseCap(rig, r) {
  const out = { id: r.id, cap: r.cap, clients: r.clients, failure: r.failure }
  if (!r.window) {
    out.failure ??= 'aborted before the steady window ended'
    return out
  }
  const { a, b } = r.window
  const conv = convergence(rig, r.cap, rig.scaledAt(b.epoch))
  out.convergeS = conv.at === null ? null : r1(conv.at)
  out.convergeSource = conv.source
  out.floorAfter = { min: conv.minAfter, max: conv.maxAfter }
  out.steady = upstreamWindow(rig, a, b, r.cap)
  return out
}

function analyseDrop(rig, r, s) {
  const out = { id: 'd', failure: r.failure, atDrop: r.atDrop, atRestore: r.atRestore ?? null }
  const end = r.m2 ?? rig.finalMark
  const endT = rig.scaledAt(end.epoch)
  const low = firstWhen(rig, (l) => l <= 20, r.dropT, endT)
  out.dropS = low.t === null ? null : r3(low.t - r.dropT)
  out.lowSource = low.source
  out.capped = upstreamWindow(rig, r.m0, r.m1 ?? end, 20)
  // The floor(L) path around the drop, and where the law put Ĉ and L.
  const steps = floorSteps(rig).steps.filter((e) => rig.scaledAt(e.epoch) >= r.dropT - 1)
  out.afterDrop = steps.slice(0, 12).map((e) => ({ t: r3(rig.scaledAt(e.epoch) - r.dropT), from: e.from, to: e.to, reason: e.reason, inflight: e.inflight }))
  out.nearThreshold = s.near
  if (r.restoreT === undefined) {
    out.failure ??= 'aborted before the cap returned to 40'
    return out
  }
  const near = firstWhen(rig, (l) => l >= s.near, r.restoreT, endT)
  const full = firstWhen(rig, (l) => l >= 40, r.restoreT, endT)
  out.nearMin = near.t === null ? null : r2((near.t - r.restoreT) / 60)
  out.fullMin = full.t === null ? null : r2((full.t - r.restoreT) / 60)
  out.restored = upstreamWindow(rig, r.m1, end, 40)
  out.probes = probes(rig).filter((p) => p.t >= r.restoreT).map((p) => ({ ...p, afterRestoreMin: r2((p.t - r.restoreT) / 60) }))
  const last429 = r.atRestore?.last429At ? rig.scaledAt(Date.parse(r.atRestore.last429At)) : null
  out.last429BeforeRestoreS = last429 === null ? null : r1(last429 - r.dropT)
  if (last429 !== null && r.atRestore?.C != null) {
    const common = { restoreT: r.restoreT, last429T: last429, c0: r.atRestore.C, latencyS: s.latencyMs / 1000 }
    out.predicted = { near: predictRestore({ ...common, threshold: s.near }), full: predictRestore({ ...common, threshold: 40 }) }
  }
  if (!r.m2) out.failure ??= 'aborted before the end of the restore phase'
  return out
}

// ---------- output ----------

function checks(analysed) {
  const rows = []
  const add = (scenario, figure, target, measured, pass) => rows.push({ scenario, figure, target, measured, pass })
  for (const r of analysed) {
    if (r.id === 'd') {
      add('d 40→20', 'floor(L) ≤ 20 after the cap drops', `≤ ${TARGETS.dropS} s`, r.dropS === null ? `not within ${BUDGETS.dropS} s` : `${r.dropS} s`, r.dropS !== null && r.dropS <= TARGETS.dropS)
      add('d cap 20', 'concurrent 429s / attempts; utilisation', 'report', `${r.capped.concurrent429Pct} % (${r.capped.counters.concurrent} of ${r.capped.counters.attempts}); ${r.capped.utilPct} % of 20`, null)
      if (r.restored) {
        add('d 20→40', `floor(L) ≥ ${r.nearThreshold} after the cap returns`, `≤ ${TARGETS.restoreMin} min`,
          r.nearMin === null ? 'not reached' : `${r.nearMin} min${r.predicted?.near ? ` (law: ${r.predicted.near.minutes})` : ''}`,
          r.nearMin !== null && r.nearMin <= TARGETS.restoreMin)
        add('d 20→40', 'floor(L) = 40 after the cap returns', 'report', r.fullMin === null ? 'not reached' : `${r.fullMin} min${r.predicted?.full ? ` (law: ${r.predicted.full.minutes})` : ''}`, null)
        add('d cap 40', 'concurrent 429s / attempts; utilisation', 'report', `${r.restored.concurrent429Pct} % (${r.restored.counters.concurrent} of ${r.restored.counters.attempts}); ${r.restored.utilPct} % of 40`, null)
      }
      if (r.failure) add('d', 'completed', 'all phases', r.failure, false)
      continue
    }
    const label = `${r.id} cap ${r.cap}`
    if (r.failure) {
      add(label, 'floor(L) reaches the cap and stays', `≤ ${TARGETS.convergeS} s`, r.failure, false)
      continue
    }
    const stays = r.floorAfter.min !== null && r.floorAfter.min >= r.cap - 1 && r.floorAfter.max <= r.cap + 1
    add(label, 'floor(L) reaches the cap and stays in [cap−1, cap+1]', `≤ ${TARGETS.convergeS} s`,
      r.convergeS === null ? 'did not stay' : `${r.convergeS} s (floor(L) ${r.floorAfter.min}–${r.floorAfter.max} after)`, r.convergeS !== null && r.convergeS <= TARGETS.convergeS && stays)
    const st = r.steady
    add(label, `upstream utilisation, ${st.scaledSeconds} s window`, `≥ ${TARGETS.utilPct} %`, `${st.utilPct} % (sampled ${st.utilSampledPct} %; idle ${st.idleRealMsPerRequest} ms real/request)`, st.utilPct >= TARGETS.utilPct)
    add(label, 'concurrent 429s / upstream attempts', `< ${TARGETS.c429Pct} %`, `${st.concurrent429Pct} % (${st.counters.concurrent} of ${st.counters.attempts})`, st.concurrent429Pct < TARGETS.c429Pct)
  }
  return rows
}

function table(rows) {
  const head = ['scenario', 'figure', 'target', 'measured', '']
  const cells = [head, ...rows.map((r) => [r.scenario, r.figure, r.target, r.measured, r.pass === null ? '' : r.pass ? 'PASS' : 'FAIL'])]
  const widths = head.map((_, c) => Math.max(...cells.map((row) => String(row[c]).length)))
  return cells.map((row, i) => row.map((cell, c) => String(cell).padEnd(widths[c])).join('  ').trimEnd() + (i === 0 ? '\n' + widths.map((w) => '-'.repeat(w)).join('  ') : '')).join('\n')
}

function gitInfo() {
  const rev = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).stdout?.trim() || null
  const dirty = (spawnSync('git', ['status', '--porcelain', '--', 'src'], { cwd: root, encoding: 'utf8' }).stdout ?? '').trim() !== ''
  return { rev, srcDirty: dirty }
}

function rigReport(rig) {
  return {
    name: rig.name,
    simulator: rig.simConfig,
    clients: { sent: rig.clients.sent, byStatus: rig.clients.byStatus, errors: rig.clients.errors, drained: rig.drained },
    gatewayClean: rig.gatewayClean,
    process: rig.process,
    recordsLost: rig.recordsLost,
    upstreamRequests: rig.records.length,
    warnings: rig.warnings,
    events: rig.events.map((e) => ({ what: e.what, t: r3(rig.scaledAt(e.epoch)) })),
    adjustments: [...rig.history.values()].sort((x, y) => (x.timestamp < y.timestamp ? -1 : 1)).map((a) => ({ t: r3(rig.scaledAt(Date.parse(a.timestamp))), from: a.old_limit, to: a.new_limit, reason: a.reason, inflight: a.inflight })),
    historyComplete: floorSteps(rig).complete,
    series: rig.series,
  }
}

// ---------- main ----------

export async function runConcurrency() {
  const s = readSettings()
  const startedAt = Date.now()
  const runDeadline = startedAt + s.maxRealS * 1000
  const capPhaseS = BUDGETS.convergeS + s.steadyMin * 60
  const plannedRealS = s.only.filter((x) => x !== 'd').reduce((sum, x) => sum + capPhaseS / (LARGE.has(x) ? s.speedupLarge : s.speedup), 0)
    + (s.only.includes('d') ? (s.holdMin * 60 + BUDGETS.restoreS) / s.speedup : 0)
  const machine = { nproc: availableParallelism(), cpu: cpus()[0]?.model ?? 'unknown', node: process.version }
  process.stdout.write(`sluice bench — concurrency: ${machine.nproc} cores (${machine.cpu}), node ${machine.node}\n` +
    `K = ${s.speedup}: the gateway's epoch clock runs ${s.speedup} × real time; a request takes ${s.latencyMs} ms scaled = ${s.latencyMs / s.speedup} ms real.\n` +
    `All times below are scaled (the gateway's time) unless marked real. Worst case ${(plannedRealS / 60).toFixed(1)} min real (every phase at its budget); bound ${s.maxRealS} s.\n\n`)
  if (plannedRealS > s.maxRealS) throw new Error(`with K = ${s.speedup} the phase budgets need up to ${Math.round(plannedRealS)} s of real time, over CONCURRENCY_MAX_REAL_S = ${s.maxRealS}: raise CONCURRENCY_SPEEDUP`)
  mkdirSync(resultsDir, { recursive: true })

  const raw = []
  const rigs = []
  let aborted = null
  for (const id of ['a', 'b', 'c', 'e', 'f']) {
    if (!s.only.includes(id)) continue
    const cap = CAPS[id]
    const K = LARGE.has(id) ? s.speedupLarge : s.speedup
    process.stdout.write(`${id}: cap ${cap}, fresh limit, ${clientsFor(cap)} closed-loop clients, K = ${K}\n`)
    const rig = await openRig(id === 'c' && s.only.includes('d') ? 'c+d' : id, cap, { ...s, speedup: K }, runDeadline)
    rigs.push(rig)
    const results = []
    try {
      const r = await capScenario(rig, id, cap, s, results)
      if (id === 'c' && s.only.includes('d')) {
        if (r.failure) process.stdout.write('d: skipped, c did not settle\n')
        else {
          process.stdout.write(`d: in the same gateway, cap 40 → 20 for ${s.holdMin} min → 40\n`)
          await dropScenario(rig, s, results)
        }
      }
    } catch (err) {
      if (!(err instanceof Abort)) throw err
      aborted = err.message
      process.stdout.write(`\nABORTED: ${aborted}\n`)
    } finally {
      await rig.close()
    }
    for (const r of results) raw.push({ rig, r })
    const x = rig.clients
    process.stdout.write(`  clients: ${x.sent} requests, ${JSON.stringify(x.byStatus)}${Object.keys(x.errors).length ? ` errors ${JSON.stringify(x.errors)}` : ''}; real ${((Date.now() - startedAt) / 1000).toFixed(0)} s so far\n\n`)
    if (aborted) break
  }

  const analysed = raw.map(({ rig, r }) => (r.id === 'd' ? analyseDrop(rig, r, s) : analyseCap(rig, r)))
  const rows = checks(analysed)
  if (aborted) rows.push({ scenario: 'run', figure: 'completed', target: 'all phases within budget', measured: `aborted: ${aborted}`, pass: false })
  const wallS = (Date.now() - startedAt) / 1000
  process.stdout.write(table(rows) + '\n\n')
  for (const r of analysed) {
    if (r.id !== 'd') continue
    process.stdout.write(`d: at the drop floor(L) ${r.atDrop.floorL}, Ĉ ${r.atDrop.C}; after it: ${r.afterDrop.map((e) => `+${e.t}s ${e.from}→${e.to} (${e.reason}, level ${e.inflight})`).join(', ')}\n`)
    if (r.atRestore && r.probes) {
      process.stdout.write(`d: at the restore floor(L) ${r.atRestore.floorL}, L ${r.atRestore.L}, Ĉ ${r.atRestore.C}; last 429 ${r.last429BeforeRestoreS} s after the drop; probes after the restore at ${r.probes.map((p) => `${p.afterRestoreMin} min (${p.from}→${p.to})`).join(', ') || 'none'}\n`)
    }
  }
  for (const rig of rigs) {
    const c = rig.clients
    const bad = Object.entries(c.byStatus).filter(([k]) => k !== '200').reduce((a, [, v]) => a + v, 0) + Object.values(c.errors).reduce((a, v) => a + v, 0)
    process.stdout.write(`${rig.name}: clients sent ${c.sent}, non-200 or failed ${bad}; upstream records ${rig.records.length}${rig.recordsLost ? ` (${rig.recordsLost} lost from the ring)` : ''}; floor(L) path from ${floorSteps(rig).complete ? 'the limit history (exact)' : 'samples (history incomplete)'}; gateway warnings ${rig.warnings.length}; process CPU ${rig.process.cpuSeconds} s in ${rig.process.realSeconds} s real, event-loop delay p50 ${rig.process.eventLoopDelayMs.p50} / p99 ${rig.process.eventLoopDelayMs.p99} / max ${rig.process.eventLoopDelayMs.max} ms real\n`)
  }
  process.stdout.write(`\nK = ${s.speedup}; wall time ${(wallS / 60).toFixed(1)} min real (${((wallS * s.speedup) / 60).toFixed(0)} min scaled).\n`)

  const stamp = new Date().toISOString().replace(/[:.]/g, '-')
  const report = {
    date: new Date().toISOString(), command: 'npm run bench -- concurrency', machine, git: gitInfo(),
    settings: s, targets: TARGETS, budgets: BUDGETS, law: LAW, wallSeconds: r1(wallS), aborted,
    gatewayConfig: rigs[0]?.gatewayConfig ?? null,
    results: analysed, checks: rows, runs: rigs.map(rigReport),
  }
  const file = join(resultsDir, `concurrency-${stamp}.json`)
  writeFileSync(file, JSON.stringify(report, null, 2) + '\n')
  writeFileSync(join(resultsDir, 'concurrency-latest.json'), JSON.stringify(report, null, 2) + '\n')
  process.stdout.write(`full figures and time series: ${file}\n`)
  if (rows.some((r) => r.pass === false)) process.exitCode = 1
}
