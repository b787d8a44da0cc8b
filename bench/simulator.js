// The bench upstream: sluice's simulator on 127.0.0.1 with a fixed time to first byte.
// Usage: node bench/simulator.js [--ttft-ms N] [--tokens-per-second N]   Prints one JSON line {"url": ...} when listening.
import { parseArgs } from 'node:util'
import { startSimulator } from '../dist/simulator/index.js'

const { values } = parseArgs({ options: { 'ttft-ms': { type: 'string', default: '0' }, 'tokens-per-second': { type: 'string' } } })
const ttftMs = Number(values['ttft-ms'])
if (!(ttftMs >= 0)) throw new Error(`--ttft-ms must be a non-negative number, not ${values['ttft-ms']}`)
const tokensPerSecond = values['tokens-per-second'] === undefined ? undefined : Number(values['tokens-per-second'])
if (tokensPerSecond !== undefined && !(tokensPerSecond > 0)) throw new Error(`--tokens-per-second must be a positive number, not ${values['tokens-per-second']}`)

// Replies with a fixed length; no limits and no faults, so every reply is a 200. Streams send
// their chunks at tokens_per_second when it is set (a non-stream reply then waits as long).
const sim = await startSimulator({
  port: 0,
  config: { latency: { ttft_ms: ttftMs, ...(tokensPerSecond === undefined ? {} : { tokens_per_second: tokensPerSecond }) }, completion_tokens: 16, accept_unknown_keys: true, faults: {} },
})
process.stdout.write(JSON.stringify({ url: sim.url, ttftMs, pid: process.pid }) + '\n')

const stop = () => void sim.close().then(() => process.exit(0))
process.once('SIGTERM', stop)
process.once('SIGINT', stop)
