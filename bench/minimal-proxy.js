// The floor for any Node gateway: node:http in, JSON.parse the body, undici Pool (keep-alive)
// out, status and body relayed as they arrive. Nothing else: no routing, no logging, no metrics.
// Usage: node bench/minimal-proxy.js --port P --upstream http://127.0.0.1:S
import { createServer } from 'node:http'
import { parseArgs } from 'node:util'
import { Pool } from 'undici'

const { values } = parseArgs({ options: { port: { type: 'string', default: '0' }, upstream: { type: 'string' } } })
if (!values.upstream) throw new Error('--upstream http://127.0.0.1:PORT is required')

// As many upstream connections as the full target allows itself (bench/deployed.js).
const pool = new Pool(values.upstream, { connections: 1024 })
// Built once, as a real gateway would: the upstream credential replaces the client's.
const upstreamHeaders = { 'content-type': 'application/json', authorization: 'Bearer sk-bench-minimal' }

const server = createServer({ keepAliveTimeout: 65_000, noDelay: true }, (req, res) => {
  const chunks = []
  req.on('data', (c) => chunks.push(c))
  req.on('end', () => {
    const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)
    try {
      JSON.parse(body.toString('utf8'))
    } catch {
      res.writeHead(400, { 'content-type': 'application/json' })
      res.end('{"error":{"message":"invalid JSON","type":"invalid_request_error","code":"invalid_json"}}')
      return
    }
    pool.request({ method: req.method, path: req.url, headers: upstreamHeaders, body }).then(
      (up) => {
        res.writeHead(up.statusCode, { 'content-type': up.headers['content-type'] ?? 'application/json' })
        up.body.on('data', (c) => res.write(c))
        up.body.on('end', () => res.end())
        up.body.on('error', () => res.destroy())
      },
      () => {
        res.writeHead(502, { 'content-type': 'application/json' })
        res.end('{"error":{"message":"upstream failed","type":"upstream_error","code":"upstream_error"}}')
      },
    )
  })
})

server.listen(Number(values.port), '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ url: `http://127.0.0.1:${server.address().port}`, pid: process.pid }) + '\n')
})

const stop = () => {
  server.close()
  server.closeAllConnections()
  void pool.close().then(() => process.exit(0))
}
process.once('SIGTERM', stop)
process.once('SIGINT', stop)
