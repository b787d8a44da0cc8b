import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

// One registry per process. Label values are ids (model route, provider id, key id), never
// secrets. Later stages register their own metrics on the same registry.

const latencyBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300]

export function createMetrics(opts: { defaultMetrics?: boolean; inFlight?: () => number } = {}) {
  const inFlight = opts.inFlight ?? (() => 0)
  const registry = new Registry()
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'sluice_process_' })
  return {
    registry,
    requests: new Counter({
      name: 'sluice_requests_total',
      help: 'Requests answered, by model route, provider, key id, HTTP status and outcome.',
      labelNames: ['model', 'provider', 'key', 'status', 'outcome'] as const,
      registers: [registry],
    }),
    // Read when scraped, from the server's own count, so requests pay nothing for it.
    inFlight: new Gauge({
      name: 'sluice_requests_in_flight',
      help: 'Requests being handled now.',
      registers: [registry],
      collect() {
        this.set(inFlight())
      },
    }),
    requestDuration: new Histogram({
      name: 'sluice_request_duration_seconds',
      help: 'Time from request received to response finished, by model route and outcome.',
      labelNames: ['model', 'outcome'] as const,
      buckets: latencyBuckets,
      registers: [registry],
    }),
    upstreamLatency: new Histogram({
      name: 'sluice_upstream_latency_seconds',
      help: 'Time from dispatch to the end of the upstream response.',
      labelNames: ['provider', 'key', 'model'] as const,
      buckets: latencyBuckets,
      registers: [registry],
    }),
    upstreamTtft: new Histogram({
      name: 'sluice_upstream_ttft_seconds',
      help: 'Time from dispatch to the first body byte of the upstream response (time to first token for streams).',
      labelNames: ['provider', 'key', 'model'] as const,
      buckets: latencyBuckets,
      registers: [registry],
    }),
    upstreamErrors: new Counter({
      name: 'sluice_upstream_errors_total',
      help: 'Upstream failures: HTTP error statuses, or the transport failure kind (connect, reset, first_byte_timeout, idle_timeout, total_timeout, invalid).',
      labelNames: ['provider', 'key', 'status'] as const,
      registers: [registry],
    }),
    configReloads: new Counter({
      name: 'sluice_config_reloads_total',
      help: 'Configuration reloads, by result (applied or rejected).',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    configGeneration: new Gauge({ name: 'sluice_config_generation', help: 'Generation number of the configuration in use.', registers: [registry] }),
  }
}

export type Metrics = ReturnType<typeof createMetrics>

