// The public face of the simulator: what tests, benchmarks and the CLI see.

export interface Clock { now(): number }

export type LimitAlgorithm = 'token-bucket' | 'fixed-window' | 'sliding-log'
export type RateLimitHeaderMode = 'openai' | 'azure' | 'anthropic' | 'none'

export interface KeyConfigInput {
  /** Name used in stats and records instead of the key itself (default: the key as written in the config). */
  id?: string
  /** Requests per minute; null removes the limit. */
  rpm?: number | null
  /** Tokens per minute (prompt estimate + max_tokens or completion tokens); null removes the limit. */
  tpm?: number | null
  algorithm?: LimitAlgorithm
  /** In-flight cap answered with a concurrency 429; null removes the cap. */
  max_concurrent?: number | null
  headers?: RateLimitHeaderMode
  retry_after?: boolean
  revoked?: boolean
  quota_exhausted?: boolean
  /** This key's own share of 5xx answers (status `faults.error_status`), drawn before the shared faults: one key failing while its siblings do not. */
  error_rate?: number
}

export interface FaultRatesInput {
  error_rate?: number
  error_status?: number
  reset_before_headers_rate?: number
  reset_mid_stream_rate?: number
  stall_rate?: number
  stall_ms?: number
  garbage_rate?: number
}

export interface SimulatorConfigInput {
  latency?: { ttft_ms?: number, tokens_per_second?: number }
  completion_tokens?: number
  chunk_split_utf8?: boolean
  /** Per upstream key value. In a patch, `null` removes a key. */
  keys?: Record<string, KeyConfigInput | null>
  accept_unknown_keys?: boolean
  /** Served by GET /v1/models; any model name is accepted for generation. */
  models?: string[]
  faults?: FaultRatesInput
  seed?: number
  /** The server itself, as a self-hosted vLLM shows it on GET /health and GET /metrics. */
  server?: ServerStateInput
}

export interface ServerStateInput {
  /** false: GET /health answers 503, as a vLLM whose engine died does. Default true. */
  healthy?: boolean
  /**
   * Sequences the fake engine runs at once, for GET /metrics: requests in flight beyond it
   * show as waiting, and KV-cache use is in flight ÷ capacity (at most 1). Default 16.
   */
  capacity?: number
  /** A fixed KV-cache use 0..1 for /metrics instead of the derived one; null goes back to derived. */
  kv_cache_usage?: number | null
  /** A fixed count of waiting requests for /metrics instead of the derived one; null goes back to derived. */
  num_requests_waiting?: number | null
}

export interface FaultMatch { model?: string, key?: string, path?: string }

export type ScriptedFault = (
  | { kind: 'error', status: number, body?: unknown, headers?: Record<string, string> }
  | { kind: 'reset_before_headers' }
  | { kind: 'reset_mid_stream', after_chunks: number }
  | { kind: 'stall_before_headers', ms: number }
  | { kind: 'stall_mid_stream', after_chunks: number, ms: number }
  | { kind: 'garbage' }
  | { kind: 'slow_chunks', interval_ms: number, chunks: number }
  | { kind: 'echo_key_in_error', status: number }
  /** A 200 that quotes the received key in its body and headers; `split` cuts each quote across two network chunks. */
  | { kind: 'echo_key_in_answer', split?: boolean }
) & { match?: FaultMatch }

export interface KeyStats {
  requests: number
  ok: number
  errors: number
  rate_limited: { rpm: number, tpm: number, concurrent: number, quota: number }
  max_concurrency_seen: number
  in_flight: number
  /** Requests whose client closed the connection before the simulator finished its response. */
  aborted: number
}

export interface SimulatorStats {
  totals: KeyStats
  keys: Record<string, KeyStats>
}

export interface RequestRecord {
  id: number
  key_id: string
  path: string
  method: string
  model: string | null
  stream: boolean
  /** 0 when the connection ended before a status line was sent. */
  status: number
  started_at: number
  ended_at: number
  aborted: boolean
  bytes_sent: number
  /** Hex SHA-256 of exactly the body bytes written. */
  sha256: string
  headers: Record<string, string>
  body_json: unknown
}

export interface Simulator {
  readonly url: string
  readonly port: number
  configure(patch: SimulatorConfigInput): void
  script(steps: ScriptedFault[]): void
  stats(): SimulatorStats
  requests(): readonly RequestRecord[]
  waitForRequests(n: number): Promise<void>
  reset(): void
  close(): Promise<void>
}

export interface StartSimulatorOptions {
  /** 0 picks a free port (default). */
  port?: number
  /** Only 127.0.0.1 is accepted: the simulator is a local test tool. */
  host?: string
  config?: SimulatorConfigInput
  clock?: Clock
}
