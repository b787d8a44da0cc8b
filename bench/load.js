// The load generator: an undici Pool against one origin, closed loop or open loop.
//
//   node bench/load.js --url http://127.0.0.1:P --mode closed --connections 50 --warmup 3 --duration 10
//   node bench/load.js --url http://127.0.0.1:P --mode open --rate 1000 --warmup 3 --duration 10
//   node bench/load.js --url http://127.0.0.1:P --mode stream --connections 100 --warmup 3 --duration 10
//   [--cpu-pids sut=123,sim=456]   also report those processes' CPU time over the measured window
//   [--signal-pids 123]            send these processes SIGUSR2 at the window's start and end
//                                  (bench/eld-probe.cjs writes their event-loop delay on it)
//   [--auth TOKEN]                 the bearer token to send (default sk-bench-client)
//
// Prints one JSON object on stdout. A run is valid only if `errors.total` is 0.
//
// Closed loop: `connections` requests in flight; each sends the next as soon as one finishes.
// Throughput is the figure; latency is mostly queueing. Open loop: requests are sent on a fixed
// schedule whatever the replies do, and latency is measured from the *scheduled* send time, so a
// stall in the system under test shows as latency for every request it delayed instead of
// quietly lowering the send rate (coordinated omission). Stream: `connections` streamed chat
// requests in flight, closed loop; the figures are the time to the first body byte and the gaps
// between body chunks as the client sees them.
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { pathToFileURL } from 'node:url'
import { Pool } from 'undici'

export const CHAT_PATH = '/v1/chat/completions'

/** A realistic small chat request: ~200 bytes of user content, 16 completion tokens. */
export const CHAT_BODY = Buffer.from(JSON.stringify({
  model: 'bench-model',
  messages: [{
    role: 'user',
    content: 'Summarise in one sentence why a gateway in front of several LLM providers should pace requests per key, ' +
      'queue by priority and learn each deployment\'s concurrency instead of retrying 429s blindly.',
  }],
  max_tokens: 16,
}))

/** The same request, streamed. */
export const STREAM_BODY = Buffer.from(JSON.stringify({ ...JSON.parse(CHAT_BODY.toString()), stream: true }))

const requestHeaders = (token) => ({ 'content-type': 'application/json', authorization: `Bearer ${token}` })

/** Latency samples in milliseconds; sorted once at the end. */
class Samples {
  #data = new Float64Array(1 << 16)
  #n = 0
  add(ms) {
    if (this.#n === this.#data.length) {
      const grown = new Float64Array(this.#data.length * 2)
      grown.set(this.#data)
      this.#data = grown
    }
    this.#data[this.#n++] = ms
  }
  summary() {
    const s = this.#data.subarray(0, this.#n).sort()
    const n = s.length
    // Nearest rank: the smallest sample with at least p% of samples at or below it.
    const at = (p) => (n === 0 ? null : round3(s[Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1))]))
    let sum = 0
    for (let i = 0; i < n; i++) sum += s[i]
    return { count: n, mean: n === 0 ? null : round3(sum / n), p50: at(50), p90: at(90), p99: at(99), p999: at(99.9), max: n === 0 ? null : round3(s[n - 1]) }
  }
}

const round3 = (x) => Math.round(x * 1000) / 1000

/** utime + stime of a process in clock ticks, from /proc/<pid>/stat (fields 14 and 15). */
export function cpuTicks(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return Number(fields[11]) + Number(fields[12])
}

/**
 * Whole-machine CPU ticks from /proc/stat: busy (user, nice, system) and steal. irq and softirq
 * are left out: loopback TCP runs much of our own traffic in softirq, which no process is charged for.
 */
export function machineTicks() {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]
  const [user, nice, system, , , , , steal] = line.trim().split(/\s+/).slice(1).map(Number)
  return { busy: user + nice + system, steal: steal ?? 0 }
}

function parseCpuPids(spec) {
  if (!spec) return []
  return spec.split(',').filter(Boolean).map((pair) => {
    const [name, pid] = pair.split('=')
    if (!name || !/^\d+$/.test(pid ?? '')) throw new Error(`--cpu-pids expects name=pid,..., not "${pair}"`)
    return { name, pid: Number(pid) }
  })
}

/**
 * Runs one load pattern and resolves with its figures.
 * @param {{ url: string, mode: 'closed' | 'open', connections?: number, rate?: number, warmupS: number,
 *   durationS: number, maxOutstanding?: number, timeoutMs?: number, cpuPids?: {name: string, pid: number}[], clkTck?: number }} o
 */
export async function runLoad(o) {
  const { url, mode, warmupS, durationS } = o
  const timeoutMs = o.timeoutMs ?? 10_000
  const cpuPids = o.cpuPids ?? []
  const clkTck = o.clkTck ?? 100
  const connections = mode === 'open' ? o.connections ?? 256 : o.connections ?? 50
  const pool = new Pool(url, { connections, pipelining: 1, keepAliveTimeout: 60_000, headersTimeout: timeoutMs, bodyTimeout: timeoutMs })
  const streaming = mode === 'stream'
  const request = { method: 'POST', path: CHAT_PATH, headers: requestHeaders(o.auth ?? 'sk-bench-client'), body: streaming ? STREAM_BODY : CHAT_BODY }
  const signalPids = o.signalPids ?? []

  const samples = new Samples()
  const firstByte = new Samples()
  const chunkGaps = new Samples()
  const errors = { total: 0, warmup: 0, byKind: {} }
  let measuring = false
  let completedInWindow = 0
  let window = null

  /** Every request that got an answer, warm-up included: each must have its access-log line and usage record. */
  let answered = 0
  const fail = (kind) => {
    errors.total++
    if (!measuring && window === null) errors.warmup++
    errors.byKind[kind] = (errors.byKind[kind] ?? 0) + 1
  }

  /** One request; resolves true on a 2xx with its body fully read. Never rejects. */
  const send = async () => {
    try {
      const sentAt = performance.now()
      const { statusCode, body } = await pool.request(request)
      answered++
      if (streaming && statusCode === 200) {
        let last = null
        for await (const _chunk of body) {
          const now = performance.now()
          if (measuring) {
            if (last === null) firstByte.add(now - sentAt)
            else chunkGaps.add(now - last)
          }
          last = now
        }
        return true
      }
      await body.dump({ limit: 1 << 20 })
      if (statusCode >= 200 && statusCode < 300) return true
      fail(`http_${statusCode}`)
    } catch (err) {
      fail(err.code ?? err.name ?? 'error')
    }
    return false
  }

  const snapshot = () => ({
    at: performance.now(),
    self: process.cpuUsage(),
    ticks: cpuPids.map(({ pid }) => cpuTicks(pid)),
    ownTicks: cpuTicks(process.pid),
    machine: machineTicks(),
  })
  let begin = null
  const signal = () => {
    for (const pid of signalPids) {
      try {
        process.kill(pid, 'SIGUSR2')
      } catch {
        // gone already: its figures are simply missing
      }
    }
  }
  const startWindow = () => {
    signal()
    begin = snapshot()
    measuring = true
  }
  const endWindow = () => {
    measuring = false
    signal()
    const end = snapshot()
    window = { begin, end }
  }

  const sendLag = { max: 0, sum: 0, n: 0 }
  let dropped = 0

  if (mode === 'closed' || streaming) {
    let stopping = false
    const worker = async () => {
      while (!stopping) {
        const t = performance.now()
        const ok = await send()
        if (!ok) await sleep(10) // a failing target must not turn the loop into a spin
        const wasMeasuring = measuring
        if (wasMeasuring) completedInWindow++
        if (ok && wasMeasuring) samples.add(performance.now() - t)
      }
    }
    const workers = Array.from({ length: connections }, worker)
    await sleep(warmupS * 1000)
    startWindow()
    await sleep(durationS * 1000)
    endWindow()
    stopping = true
    await Promise.all(workers)
  } else {
    const rate = o.rate ?? 1000
    const maxOutstanding = o.maxOutstanding ?? 2000
    const interval = 1000 / rate
    const total = Math.round((warmupS + durationS) * rate)
    const firstMeasured = Math.round(warmupS * rate)
    const lastMeasured = total // exclusive
    let outstanding = 0
    let next = 0
    let allSent
    const sent = new Promise((resolve) => (allSent = resolve))
    let drained
    const idle = new Promise((resolve) => (drained = resolve))
    const t0 = performance.now() + 20

    const fire = (i, scheduled) => {
      if (i === firstMeasured) startWindow()
      if (outstanding >= maxOutstanding) {
        dropped++
        fail('dropped_over_max_outstanding')
        return
      }
      outstanding++
      void send().then((ok) => {
        outstanding--
        if (measuring) completedInWindow++
        if (ok && i >= firstMeasured && i < lastMeasured) samples.add(performance.now() - scheduled)
        if (outstanding === 0 && next === total) drained()
      })
    }
    const tick = () => {
      const now = performance.now()
      while (next < total && t0 + next * interval <= now) {
        const scheduled = t0 + next * interval
        const lag = now - scheduled
        if (next >= firstMeasured) {
          sendLag.sum += lag
          sendLag.n++
          if (lag > sendLag.max) sendLag.max = lag
        }
        fire(next, scheduled)
        next++
      }
      if (next < total) setTimeout(tick, Math.max(0, t0 + next * interval - performance.now()))
      else allSent()
    }
    setTimeout(tick, 20)
    await sent
    // The window closes when the last request is scheduled; replies still on the way are not
    // counted in the rate but their latency is (they were scheduled inside the window).
    const closeAt = t0 + total * interval
    await sleep(Math.max(0, closeAt - performance.now()))
    endWindow()
    if (outstanding > 0) {
      const timedOut = await Promise.race([idle.then(() => false), sleep(timeoutMs + 1000).then(() => true)])
      if (timedOut) fail('never_finished')
    }
  }
  await pool.destroy()

  const { begin: b, end: e } = window
  const seconds = (e.at - b.at) / 1000
  const selfUs = e.self.user + e.self.system - b.self.user - b.self.system
  const cpu = { loadgen: { cpuMs: round3(selfUs / 1000), usPerRequest: round3(selfUs / completedInWindow), util: round3(selfUs / 1e6 / seconds) } }
  cpuPids.forEach(({ name }, k) => {
    const us = ((e.ticks[k] - b.ticks[k]) * 1e6) / clkTck
    cpu[name] = { cpuMs: round3(us / 1000), usPerRequest: round3(us / completedInWindow), util: round3(us / 1e6 / seconds) }
  })
  // CPU that none of the measured processes used: other work on the machine during the window,
  // which makes the figures unreliable (the bench shares the box with whatever else runs).
  const oursTicks = e.ownTicks - b.ownTicks + cpuPids.reduce((sum, _, k) => sum + e.ticks[k] - b.ticks[k], 0)
  const machine = {
    busyCores: round3((e.machine.busy - b.machine.busy) / clkTck / seconds),
    otherCores: round3(Math.max(0, e.machine.busy - b.machine.busy - oursTicks) / clkTck / seconds),
    stealCores: round3((e.machine.steal - b.machine.steal) / clkTck / seconds),
  }
  return {
    mode,
    url,
    connections,
    rate: mode === 'open' ? o.rate ?? 1000 : null,
    warmupS,
    windowS: round3(seconds),
    completed: completedInWindow,
    answered,
    rps: Math.round(completedInWindow / seconds),
    latencyMs: samples.summary(),
    firstByteMs: streaming ? firstByte.summary() : null,
    chunkGapMs: streaming ? chunkGaps.summary() : null,
    errors,
    dropped,
    sendLagMs: mode === 'open' ? { mean: round3(sendLag.sum / Math.max(1, sendLag.n)), max: round3(sendLag.max) } : null,
    cpu,
    machine,
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({
    options: {
      url: { type: 'string' },
      mode: { type: 'string', default: 'closed' },
      connections: { type: 'string' },
      rate: { type: 'string', default: '1000' },
      warmup: { type: 'string', default: '3' },
      duration: { type: 'string', default: '10' },
      'max-outstanding': { type: 'string', default: '2000' },
      'timeout-ms': { type: 'string', default: '10000' },
      'cpu-pids': { type: 'string' },
      'clk-tck': { type: 'string', default: '100' },
      'signal-pids': { type: 'string' },
      auth: { type: 'string' },
    },
  })
  if (!values.url) throw new Error('--url is required')
  if (!['closed', 'open', 'stream'].includes(values.mode)) throw new Error('--mode is closed, open or stream')
  if (!/^http:\/\/127\.0\.0\.1:\d+$/.test(values.url)) throw new Error('--url must be http://127.0.0.1:PORT: the bench only loads the local machine')
  const result = await runLoad({
    url: values.url,
    mode: values.mode,
    connections: values.connections === undefined ? undefined : Number(values.connections),
    rate: Number(values.rate),
    warmupS: Number(values.warmup),
    durationS: Number(values.duration),
    maxOutstanding: Number(values['max-outstanding']),
    timeoutMs: Number(values['timeout-ms']),
    cpuPids: parseCpuPids(values['cpu-pids']),
    clkTck: Number(values['clk-tck']),
    signalPids: (values['signal-pids'] ?? '').split(',').filter(Boolean).map(Number),
    auth: values.auth,
  })
  process.stdout.write(JSON.stringify(result) + '\n')
}
