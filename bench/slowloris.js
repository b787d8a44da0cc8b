// Slow-header clients against one gateway: does a crowd of connections trickling their
// headers a byte at a time delay anyone else, and is each of them cut at server.request_timeout
// with a JSON 408? Three processes, so nobody shares an event loop: the gateway (with the
// simulator, from dist/), the tricklers, and this one, which measures ordinary chat requests
// alone and then beside the tricklers.
//
//   npm run build && node bench/slowloris.js
//
// Environment: SLOWLORIS_CONNECTIONS (default 300), SLOWLORIS_REQUESTS (per phase, default
// 1000), SLOWLORIS_CONCURRENCY (default 10), SLOWLORIS_TIMEOUT_MS (server.request_timeout,
// default 5000). Bounded: about request_timeout plus a few seconds.
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Pool } from 'undici'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const env = (name, def) => Number(process.env[name] ?? def)
const connections = env('SLOWLORIS_CONNECTIONS', 300)
const requests = env('SLOWLORIS_REQUESTS', 1000)
const concurrency = env('SLOWLORIS_CONCURRENCY', 10)
const timeoutMs = env('SLOWLORIS_TIMEOUT_MS', 5000)

const gatewayScript = `
  import { startGateway } from ${JSON.stringify(join(root, 'dist/main.js'))}
  import { startSimulator } from ${JSON.stringify(join(root, 'dist/simulator/index.js'))}
  import { createLogger } from ${JSON.stringify(join(root, 'dist/telemetry/logger.js'))}
  import { Writable } from 'node:stream'
  const sim = await startSimulator({ config: {} })
  const gw = await startGateway({
    config: { label: 'slowloris', value: {
      providers: { sim: { type: 'openai', base_url: sim.url + '/v1', keys: [{ id: 'k1', key: 'sk-sim-bench' }] } },
      models: { 'bench-model': { targets: [{ provider: 'sim', model: 'sim-model' }] } },
      server: { request_timeout: ${timeoutMs} },
      log: { access_log: false },
    } },
    logger: createLogger({ level: 'error', destination: new Writable({ write: (_c, _e, done) => done() }) }),
    port: 0, processMetrics: false, database: 'sqlite::memory:',
  })
  console.log(JSON.stringify({ port: gw.port }))
  process.on('SIGTERM', async () => { await gw.shutdown(); await sim.close(); process.exit(0) })
`

const tricklerScript = `
  import { connect } from 'node:net'
  const [port, n] = process.argv.slice(1).map(Number)
  let open = 0, answered = 0, json408 = 0, other = 0
  const started = performance.now()
  const cuts = []
  for (let i = 0; i < n; i++) {
    const s = connect(port, '127.0.0.1', () => { if (++open === n) console.log(JSON.stringify({ ready: true })) })
    let got = ''
    s.on('data', (c) => (got += c.toString('latin1')))
    s.on('error', () => {})
    s.on('close', () => {
      clearInterval(timer)
      answered++
      cuts.push(performance.now() - started)
      if (/^HTTP\\/1\\.1 408 /.test(got) && /\\r\\nx-request-id: /.test(got) && got.includes('"code":"request_timeout"')) json408++
      else other++
      if (answered === n) {
        cuts.sort((a, b) => a - b)
        console.log(JSON.stringify({ json408, other, firstCutMs: Math.round(cuts[0]), lastCutMs: Math.round(cuts[n - 1]) }))
        process.exit(0)
      }
    })
    s.write('POST /v1/chat/completions HTTP/1.1\\r\\nHost: sluice.test\\r\\nX-Trickle: ')
    const timer = setInterval(() => s.writable && s.write('a'), 200)
  }
`

function node(script, args = []) {
  const child = spawn(process.execPath, ['--input-type=module', '-e', script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
  const lines = createInterface({ input: child.stdout })
  const next = () => new Promise((resolve) => lines.once('line', (l) => resolve(JSON.parse(l))))
  return { child, next }
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * p) - 1)]
}

async function phase(pool) {
  const ms = []
  let sent = 0
  let errors = 0
  const body = JSON.stringify({ model: 'bench-model', messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 })
  const worker = async () => {
    while (sent++ < requests) {
      const t = performance.now()
      const res = await pool.request({ path: '/v1/chat/completions', method: 'POST', headers: { 'content-type': 'application/json' }, body })
      await res.body.text()
      if (res.statusCode !== 200) errors++
      ms.push(performance.now() - t)
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  ms.sort((a, b) => a - b)
  return { p50: +percentile(ms, 0.5).toFixed(2), p99: +percentile(ms, 0.99).toFixed(2), max: +ms[ms.length - 1].toFixed(2), errors }
}

const gateway = node(gatewayScript)
const { port } = await gateway.next()
const pool = new Pool(`http://127.0.0.1:${port}`, { connections: concurrency })
try {
  await phase(pool) // warm-up
  const alone = await phase(pool)
  const tricklers = node(tricklerScript, [String(port), String(connections)])
  await tricklers.next()
  const beside = await phase(pool)
  const cut = await tricklers.next()
  console.log(JSON.stringify({ connections, requests, concurrency, requestTimeoutMs: timeoutMs, alone, beside, tricklers: cut }, null, 2))
} finally {
  await pool.close()
  gateway.child.kill('SIGTERM')
}
