import { Registry, collectDefaultMetrics } from 'prom-client'
import { Counter, CounterReading, Gauge, GaugeSet, Histogram, type Family } from './prometheus.js'

// One registry per process. Label values are ids (model route, provider id, key id), never
// secrets. The request-path metrics use sluice's own minimal families (see prometheus.ts);
// Node's process metrics come from prom-client. Later stages add their families to `metrics`.

const waitBuckets = [0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300]
const latencyBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300]

export interface MetricsOptions {
  /** Collect Node's process metrics (CPU, memory, event loop, GC). Default true. */
  readonly defaultMetrics?: boolean
  readonly inFlight?: () => number
  readonly configGeneration?: () => number
  /** Usage records waiting to be written, and how many the buffer holds at most. */
  readonly usageBuffer?: () => number
  readonly usageBufferCapacity?: () => number
  /** 1 while the database answers, 0 while it cannot be reached. */
  readonly databaseUp?: () => number
  /** 1 while shared state (`state:`) answers (always in memory), 0 while each instance keeps to its share. */
  readonly stateUp?: () => number
  /** Live instances when last seen (1 in memory). */
  readonly stateInstances?: () => number
  /** Log lines lost to a stdout that was gone or whose reader fell behind. */
  readonly logLinesDropped?: () => number
}

export function createMetrics(opts: MetricsOptions = {}) {
  const processRegistry = new Registry()
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: processRegistry, prefix: 'sluice_process_' })
  const metrics = {
    requests: new Counter('sluice_requests_total', 'Requests answered, by model route, provider, key id, HTTP status and outcome.', ['model', 'provider', 'key', 'status', 'outcome']),
    inFlight: new Gauge('sluice_requests_in_flight', 'Requests being handled now.', opts.inFlight ?? (() => 0)),
    requestDuration: new Histogram(
      'sluice_request_duration_seconds',
      'Time from request received to response finished, by model route and outcome.',
      ['model', 'outcome'],
      latencyBuckets,
    ),
    upstreamLatency: new Histogram('sluice_upstream_latency_seconds', 'Time from dispatch to the end of the upstream response.', ['provider', 'key', 'model'], latencyBuckets),
    upstreamTtft: new Histogram(
      'sluice_upstream_ttft_seconds',
      'Time from dispatch to the first body byte of the upstream response (time to first token for streams).',
      ['provider', 'key', 'model'],
      latencyBuckets,
    ),
    upstreamErrors: new Counter(
      'sluice_upstream_errors_total',
      'Upstream failures: HTTP error statuses, or the transport failure kind (connect, reset, first_byte_timeout, idle_timeout, total_timeout, connect_timeout, invalid).',
      ['provider', 'key', 'status'],
    ),
    queueDepth: new GaugeSet('sluice_queue_depth', 'Requests waiting in each model\'s queue, by priority.', ['model', 'priority']),
    queueWait: new Histogram('sluice_queue_wait_seconds', 'Time a request waited in the queue before it was sent upstream, by model and priority.', ['model', 'priority'], waitBuckets),
    queueRejected: new Counter(
      'sluice_queue_rejected_total',
      'Requests that left the queue without being sent upstream, by reason: full, consumer_full, shed, timeout, rate_limited, no_capacity, client_gone.',
      ['model', 'priority', 'reason'],
    ),
    pacerRate: new GaugeSet('sluice_pacer_rate_rpm', 'Requests per minute each key is paced at now (+Inf: not paced yet).', ['provider', 'key', 'model']),
    pacerLimit: new GaugeSet('sluice_pacer_limit_rpm', 'Each key\'s request limit per minute as sluice knows it: min(configured, learned); +Inf when unknown.', ['provider', 'key', 'model']),
    pacerTokenRate: new GaugeSet('sluice_pacer_rate_tpm', 'Tokens per minute each key is paced at now (+Inf: not paced).', ['provider', 'key', 'model']),
    pacerState: new GaugeSet('sluice_pacer_state', 'Each key\'s pacer state: 1 for the current one of steady, paused, retreating, recovering.', ['provider', 'key', 'model', 'state']),
    upstream429: new Counter('sluice_upstream_429_total', 'Upstream 429s (and 529 overloads), by type: rpm, tpm, concurrent, quota, overload, unknown.', ['provider', 'key', 'type']),
    concurrencyLimit: new GaugeSet('sluice_concurrency_limit', 'Requests each key may have in flight now: its fixed limit, or the learned one (floor(L)).', ['provider', 'key', 'mode']),
    concurrencyInFlight: new GaugeSet('sluice_concurrency_in_flight', 'Permits held on each key: requests sent upstream whose answer or stream has not ended.', ['provider', 'key']),
    retries: new Counter(
      'sluice_retries_total',
      'Attempts after a request\'s first, by reason: retry (another key of the model), fallback (another model), and budget_exhausted for retries refused by the retry budget.',
      ['reason'],
    ),
    breakerState: new GaugeSet('sluice_breaker_state', 'Each key\'s health: 1 for the current one of closed, open, half-open, disabled.', ['provider', 'key', 'state']),
    probes: new Counter('sluice_probes_total', 'Active health probes of keys out of service, by result (pass, fail, neutral).', ['provider', 'key', 'result']),
    usageBuffer: new Gauge(
      'sluice_usage_buffer_records',
      'Usage records waiting to be written to the database (the batch being written included). Grows while the database cannot be reached; past sluice_usage_buffer_capacity_records, records are dropped.',
      opts.usageBuffer ?? (() => 0),
    ),
    usageBufferCapacity: new Gauge('sluice_usage_buffer_capacity_records', 'Usage records the buffer holds at most (usage.buffer).', opts.usageBufferCapacity ?? (() => 0)),
    databaseUp: new Gauge('sluice_database_up', '1 while the database answers, 0 while it cannot be reached (then /health/ready says degraded: "database").', opts.databaseUp ?? (() => 1)),
    stateUp: new Gauge('sluice_state_up', '1 while shared state (`state:` on Redis) answers, 0 while it cannot be reached: each instance then keeps to its share of every consumer limit and /health/ready says degraded: "state". Always 1 with state: memory.', opts.stateUp ?? (() => 1)),
    stateInstances: new Gauge('sluice_state_instances', 'Live sluice instances sharing state, when last seen (their heartbeats); what a limit is divided by while shared state is down. 1 with state: memory.', opts.stateInstances ?? (() => 1)),
    logLinesDropped: new CounterReading('sluice_log_lines_dropped_total', 'Log lines (access log included) lost because stdout was closed or its reader fell 16 MB behind. Should stay 0.', opts.logLinesDropped ?? (() => 0)),
    usageDropped: new Counter('sluice_usage_records_dropped_total', 'Usage records dropped because the database fell behind and the buffer (usage.buffer) was full. Should stay 0.', []),
    spend: new Counter('sluice_spend_usd_total', 'USD charged to callers from the usage the upstream reported and `pricing`, by model route and consumer tier ("none" without one).', ['model', 'tier']),
    tokens: new Counter('sluice_tokens_total', 'Tokens the upstream reported, by model route and type (prompt, completion).', ['model', 'type']),
    dashboardViewers: new GaugeSet('sluice_dashboard_viewers', 'Open dashboard event streams (GET /api/admin/events); the overview is built only while this is above 0.', []),
    protocolErrors: new Counter(
      'sluice_protocol_errors_total',
      'Requests answered before the pipeline because node:http could not take them (not valid HTTP, headers too large, not received within server.request_timeout, CONNECT, an unknown Expect), by error code.',
      ['code'],
    ),
    configReloads: new Counter('sluice_config_reloads_total', 'Configuration reloads, by result (applied or rejected).', ['result']),
    configGeneration: new Gauge('sluice_config_generation', 'Generation number of the configuration in use.', opts.configGeneration ?? (() => 0)),
  }
  const families: Family[] = Object.values(metrics)
  return {
    ...metrics,
    contentType: processRegistry.contentType,
    /** The Prometheus text exposition of every metric. */
    async render(): Promise<string> {
      return families.map((f) => f.render()).join('') + (await processRegistry.metrics())
    },
  }
}

export type Metrics = ReturnType<typeof createMetrics>
