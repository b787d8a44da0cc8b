// The bench upstream: sluice's simulator on 127.0.0.1 with a fixed time to first byte.
// Usage: node bench/simulator.js [--ttft-ms N]   Prints one JSON line {"url": ...} when listening.
import { parseArgs } from 'node:util'
import { startSimulator } from '../dist/simulator/index.js'

const { values } = parseArgs({ options: { 'ttft-ms': { type: 'string', default: '0' } } })
const ttftMs = Number(values['ttft-ms'])
if (!(ttftMs >= 0)) throw new Error(`--ttft-ms must be a non-negative number, not ${values['ttft-ms']}`)

// Non-stream replies with a fixed length; no limits and no faults, so every reply is a 200.
const sim = await startSimulator({
  port: 0,
  config: { latency: { ttft_ms: ttftMs }, completion_tokens: 16, accept_unknown_keys: true, faults: {} },
})
process.stdout.write(JSON.stringify({ url: sim.url, ttftMs, pid: process.pid }) + '\n')

const stop = () => void sim.close().then(() => process.exit(0))
process.once('SIGTERM', stop)
process.once('SIGINT', stop)
