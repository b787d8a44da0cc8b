import type { KeyConfigInput, LimitAlgorithm, RateLimitHeaderMode, SimulatorConfigInput } from '../types.js'
import { SimulatorConfigError } from './parse.js'

/** One configured upstream key, with every default applied. */
export interface KeyPolicy {
  readonly key: string
  /** What stats and records call this key. */
  readonly id: string
  readonly rpm: number | null
  readonly tpm: number | null
  readonly algorithm: LimitAlgorithm
  readonly maxConcurrent: number | null
  readonly headers: RateLimitHeaderMode
  readonly retryAfter: boolean
  readonly revoked: boolean
  readonly quotaExhausted: boolean
  /** This key's own 5xx rate, on top of the shared faults. */
  readonly errorRate: number
}

export interface FaultRates {
  readonly errorRate: number
  readonly errorStatus: number
  readonly resetBeforeHeadersRate: number
  readonly resetMidStreamRate: number
  readonly stallRate: number
  readonly stallMs: number
  readonly garbageRate: number
}

/** The config compiled once per change, so the request path only reads fields. */
export interface SimulatorRuntime {
  readonly ttftMs: number
  /** 0 = write every chunk at once. */
  readonly chunkIntervalMs: number
  readonly completionTokens: number
  readonly chunkSplitUtf8: boolean
  readonly acceptUnknownKeys: boolean
  readonly models: readonly string[]
  readonly faults: FaultRates
  readonly anyFault: boolean
  readonly seed: number
  readonly keys: ReadonlyMap<string, KeyPolicy>
  readonly server: ServerState
}

/** What GET /health and GET /metrics report (a self-hosted vLLM's own endpoints). */
export interface ServerState {
  readonly healthy: boolean
  readonly capacity: number
  /** null: derived from the requests in flight. */
  readonly kvCacheUsage: number | null
  /** null: derived from the requests in flight. */
  readonly waiting: number | null
}

export const DEFAULT_MODELS: readonly string[] = ['sim-small', 'sim-large', 'gpt-4o-mini', 'meta/llama-3.1-70b-instruct']

/** Applies a patch to the accumulated input: nested objects merge field by field; a `null` key is removed. */
export function mergeConfig(base: SimulatorConfigInput, patch: SimulatorConfigInput): SimulatorConfigInput {
  const merged: SimulatorConfigInput = { ...base, ...definedFields(patch) }
  if (patch.latency !== undefined) merged.latency = { ...base.latency, ...definedFields(patch.latency) }
  if (patch.faults !== undefined) merged.faults = { ...base.faults, ...definedFields(patch.faults) }
  if (patch.server !== undefined) merged.server = { ...base.server, ...definedFields(patch.server) }
  if (patch.keys !== undefined) {
    const keys: Record<string, KeyConfigInput | null> = { ...base.keys }
    for (const [key, change] of Object.entries(patch.keys)) {
      if (change === null) delete keys[key]
      else keys[key] = { ...keys[key], ...definedFields(change) }
    }
    merged.keys = keys
  }
  return merged
}

export function compileConfig(input: SimulatorConfigInput): SimulatorRuntime {
  const tokensPerSecond = input.latency?.tokens_per_second ?? 0
  const f = input.faults ?? {}
  const faults: FaultRates = Object.freeze({
    errorRate: f.error_rate ?? 0,
    errorStatus: f.error_status ?? 500,
    resetBeforeHeadersRate: f.reset_before_headers_rate ?? 0,
    resetMidStreamRate: f.reset_mid_stream_rate ?? 0,
    stallRate: f.stall_rate ?? 0,
    stallMs: f.stall_ms ?? 0,
    garbageRate: f.garbage_rate ?? 0,
  })
  return Object.freeze({
    ttftMs: input.latency?.ttft_ms ?? 0,
    chunkIntervalMs: tokensPerSecond > 0 ? 1000 / tokensPerSecond : 0,
    completionTokens: input.completion_tokens ?? 16,
    chunkSplitUtf8: input.chunk_split_utf8 ?? false,
    acceptUnknownKeys: input.accept_unknown_keys ?? true,
    models: Object.freeze([...(input.models ?? DEFAULT_MODELS)]),
    faults,
    anyFault: faults.errorRate + faults.resetBeforeHeadersRate + faults.resetMidStreamRate + faults.stallRate + faults.garbageRate > 0,
    seed: input.seed ?? 1,
    keys: compileKeys(input.keys ?? {}),
    server: Object.freeze({
      healthy: input.server?.healthy ?? true,
      capacity: input.server?.capacity ?? 16,
      kvCacheUsage: input.server?.kv_cache_usage ?? null,
      waiting: input.server?.num_requests_waiting ?? null,
    }),
  })
}

function compileKeys(keys: Record<string, KeyConfigInput | null>): ReadonlyMap<string, KeyPolicy> {
  const policies = new Map<string, KeyPolicy>()
  const ids = new Set<string>()
  for (const [key, k] of Object.entries(keys)) {
    if (k === null) continue
    const id = k.id ?? key
    // Two keys sharing an id would share stats and concurrency counts, hiding exactly what tests look for.
    if (ids.has(id)) throw new SimulatorConfigError(`simulator config: keys.${key}.id: id "${id}" is used by another key`)
    ids.add(id)
    policies.set(key, Object.freeze({
      key,
      id,
      rpm: k.rpm ?? null,
      tpm: k.tpm ?? null,
      algorithm: k.algorithm ?? 'token-bucket',
      maxConcurrent: k.max_concurrent ?? null,
      headers: k.headers ?? 'openai',
      retryAfter: k.retry_after ?? true,
      revoked: k.revoked ?? false,
      quotaExhausted: k.quota_exhausted ?? false,
      errorRate: k.error_rate ?? 0,
    }))
  }
  return policies
}

function definedFields<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>
}
