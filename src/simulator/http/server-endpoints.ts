import type { IncomingMessage, ServerResponse } from 'node:http'
import type { SimulatorState } from '../state.js'

/**
 * A self-hosted vLLM server's own endpoints, beside the API: GET /health (what a base-URL
 * health check asks) and GET /metrics (what the `metrics` balancing strategy scrapes). Like
 * the control endpoint they need no key and are neither recorded nor counted: a scraper
 * polls them every few seconds, and they are not the API traffic tests assert on.
 * Returns false when the request is not for one of them.
 */
export function serveServerEndpoint(state: SimulatorState, req: IncomingMessage, res: ServerResponse, path: string): boolean {
  if (req.method !== 'GET' || (path !== '/health' && path !== '/metrics')) return false
  req.resume()
  const server = state.runtime.server
  if (path === '/health') {
    send(res, server.healthy ? 200 : 503, 'application/json', JSON.stringify({ status: server.healthy ? 'ok' : 'unhealthy' }))
  } else {
    send(res, 200, 'text/plain; version=0.0.4; charset=utf-8', metricsPage(state))
  }
  return true
}

/**
 * vLLM's gauges in the Prometheus text format, one label set per model with requests in
 * flight (the first configured model always, as the one the server is serving). The fake
 * engine runs `capacity` requests at once, in model order; the rest wait. KV-cache use
 * grows with what is in flight and is full at capacity. Fixed values from the config
 * (`server.kv_cache_usage`, `server.num_requests_waiting`) replace the derived ones.
 */
export function metricsPage(state: SimulatorState): string {
  const { server, models } = state.runtime
  const served = models[0] ?? 'sim'
  const counts = new Map<string, number>([[served, 0]])
  let total = 0
  for (const [model, n] of state.inflightByModel()) {
    const name = model === '' ? served : model
    counts.set(name, (counts.get(name) ?? 0) + n)
    total += n
  }
  let free = server.capacity
  const running: string[] = []
  const waiting: string[] = []
  for (const [model, n] of counts) {
    const run = Math.min(n, free)
    free -= run
    const label = `{model_name="${escapeLabel(model)}"}`
    running.push(`vllm:num_requests_running${label} ${num(run)}`)
    const wait = server.waiting === null ? n - run : model === served ? server.waiting : 0
    waiting.push(`vllm:num_requests_waiting${label} ${num(wait)}`)
  }
  const kv = server.kvCacheUsage ?? Math.min(1, total / server.capacity)
  return [
    '# HELP vllm:num_requests_running Number of requests in model execution batches.',
    '# TYPE vllm:num_requests_running gauge',
    ...running,
    '# HELP vllm:num_requests_waiting Number of requests waiting to be processed.',
    '# TYPE vllm:num_requests_waiting gauge',
    ...waiting,
    '# HELP vllm:gpu_cache_usage_perc GPU KV-cache usage. 1 means 100 percent usage.',
    '# TYPE vllm:gpu_cache_usage_perc gauge',
    `vllm:gpu_cache_usage_perc{model_name="${escapeLabel(served)}"} ${num(kv)}`,
    '',
  ].join('\n')
}

/** As Python's prometheus_client prints a float: integers keep a `.0`. */
function num(v: number): string {
  return Number.isInteger(v) ? v.toFixed(1) : String(v)
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  const bytes = Buffer.from(body)
  res.writeHead(status, { 'content-type': contentType, 'content-length': bytes.length })
  res.end(bytes)
}
