import type { Dispatcher } from 'undici'
import type { ConsumerSettingsInput, PriceTable } from '../core/admit/index.js'
import type { PeakEwma, Strategy } from '../core/balance/index.js'
import type { KeyBreaker } from '../core/breaker/index.js'
import type { ProbeTarget } from '../health/index.js'
import type { ConcurrencyLimit } from '../core/limit/concurrency-limit.js'
import type { KeyPacer } from '../core/pacer/key-pacer.js'
import type { Priority } from '../core/queue/index.js'
import type { SecretIndex } from '../core/secrets/secret-index.js'
import type { Dialect, Endpoint } from '../providers/types.js'
import type { StateSettings } from '../state/settings.js'

// What the request path reads: built once per config generation, frozen, swapped whole.

export interface UpstreamTimeouts {
  readonly connectMs: number
  readonly firstByteMs: number
  readonly idleMs: number
  readonly totalMs: number
}

export interface Provider {
  readonly id: string
  readonly dialect: Dialect
  readonly origin: string
  readonly dispatcher: Dispatcher
  readonly timeouts: UpstreamTimeouts
  readonly keys: readonly ProviderKey[]
  /** Every secret of this provider, for scrubbing upstream text before a client sees it. */
  readonly secrets: readonly string[]
  /** Ask streams for their usage (stream_options.include_usage) so every stream is accounted for. */
  readonly streamUsage: boolean
  /** Passthrough path for a client path below /v1, e.g. "/files" → "/v1/files". */
  passthroughPath(pathBelowV1: string): string
}

export interface ProviderKey {
  readonly id: string
  /** Flat [name, value, …] pairs sent with every request on this key: credentials and static headers. */
  readonly headers: readonly string[]
  /** `headers` plus the content negotiation of a managed JSON request, and of a streaming one. */
  readonly jsonRequestHeaders: readonly string[]
  readonly streamRequestHeaders: readonly string[]
  /**
   * How many requests may be in flight on this key, and the permits held: long-lived, shared by
   * every deployment on the key, kept across reloads with what it learned.
   */
  readonly limit: ConcurrencyLimit
  /** The key's health: long-lived like `limit`. */
  readonly breaker: KeyBreaker
}

/** provider × key × upstream model: the unit a request is sent to. */
export interface Deployment {
  readonly id: string
  readonly provider: Provider
  readonly key: ProviderKey
  readonly upstreamModel: string
  /** `upstreamModel` as a JSON string literal, for splicing into request bodies. */
  readonly upstreamModelJson: string
  /** Per endpoint, the upstream path, or null when this deployment cannot serve it. */
  readonly paths: Readonly<Record<Endpoint, string | null>>
  /**
   * The pacer of this deployment's key (or key × model with `limit_scope: key-model`). It is
   * long-lived state, shared by every deployment on the same key and kept across reloads.
   */
  readonly pacer: KeyPacer
  /** `key.limit`, at hand for the dispatcher. */
  readonly limit: ConcurrencyLimit
  /** The key's health (long-lived, shared by every deployment on the key). */
  readonly breaker: KeyBreaker
  /** Peak-EWMA of this deployment's time to first token, for the latency strategy (long-lived). */
  readonly ttft: PeakEwma
  /** The target's weight, for the weighted strategies. */
  readonly weight: number
  /** The target's split group, or null. */
  readonly group: string | null
  /** The origin whose vLLM /metrics the `metrics` strategy reads. */
  readonly origin: string
}

/** One group of a split: the deployments of its targets, per endpoint. */
export interface SplitGroup {
  readonly name: string
  readonly weight: number
  readonly byEndpoint: Readonly<Record<Endpoint, readonly Deployment[]>>
}

export interface RouteSplit {
  readonly groups: readonly SplitGroup[]
  readonly totalWeight: number
  /** Lower-case name of the header that picks a group in an A/B test; null for a canary split (random per request). */
  readonly abHeader: string | null
  /** The header as configured, for error messages. */
  readonly abHeaderName: string | null
}

export interface CorsSettings {
  /** Allowed origins; `*` alone allows any (never with credentials). */
  readonly origins: ReadonlySet<string>
  readonly any: boolean
  readonly credentials: boolean
  readonly maxAgeSeconds: string
}

export interface RetrySettings {
  /** Retries of one request on other keys. */
  readonly max: number
  readonly budget: number
  readonly minBudget: number
  /** Send to the key that comes back soonest when all are out, instead of 503 no_capacity. */
  readonly panicMode: boolean
}

/** An active health check of one key, described once at compile time (the prober's target). */
export type ProbeSpec = ProbeTarget

export type WhenFull = 'reject' | 'passthrough' | 'shed-lowest'

export interface QueueSettings {
  readonly maxSize: number
  readonly perConsumer: number
  readonly whenFull: WhenFull
  /** Max wait per priority (urgent, high, normal, low), ms. */
  readonly maxWaitMs: Readonly<Record<Priority, number>>
  /** SSE comment interval for waiting streams, ms; 0 = off. */
  readonly keepaliveMs: number
}

export interface ModelRoute {
  readonly name: string
  readonly deployments: readonly Deployment[]
  /** The deployments able to serve each endpoint, in config order. */
  readonly byEndpoint: Readonly<Record<Endpoint, readonly Deployment[]>>
  /** Serialized /v1/models/{id} entry. */
  readonly modelJson: string
  /** Picks among the deployments that can take a request now; one instance (and state) per route. */
  readonly strategy: Strategy
  /** Models tried in order once this one's keys have failed or are out. */
  readonly fallbacks: readonly string[]
  readonly split: RouteSplit | null
}

export interface Runtime {
  readonly generation: number
  readonly loadedAt: number
  readonly source: string
  readonly server: {
    readonly host: string
    readonly port: number
    readonly metricsPort: number | null
    readonly bodyLimit: number
    readonly drainTimeoutMs: number
    readonly keepAliveTimeoutMs: number
    readonly requestTimeoutMs: number
  }
  readonly log: { readonly level: string; readonly accessLog: boolean }
  readonly providers: ReadonlyMap<string, Provider>
  /** Routes by exact name and alias. */
  readonly models: ReadonlyMap<string, ModelRoute>
  /** The route for a name: exact names and aliases first, then wildcard patterns (built on first use). */
  resolveModel(name: string): ModelRoute | null
  readonly retries: RetrySettings
  /** Origins whose vLLM /metrics the `metrics` strategy reads. */
  readonly metricsOrigins: readonly string[]
  /** The active health checks this config asks for. */
  readonly probes: readonly ProbeSpec[]
  /** Serialized /v1/models list. */
  readonly modelListJson: string
  readonly passthrough: Provider | null
  readonly queue: QueueSettings
  /** Output tokens charged at dispatch when a request sets no max_tokens. */
  readonly outputReserve: number
  /** Where shared limits live (read at start only; a Redis password is never logged: use `where`). */
  readonly state: StateSettings
  /** The database URL (read at start only; may hold a password, so never logged). */
  readonly database: string
  /** Admin API keys (`admin.keys`); empty = the admin API refuses everything. */
  readonly adminKeys: readonly string[]
  /** Read-only admin API keys (`admin.read_only_keys`). */
  readonly readOnlyKeys: readonly string[]
  /** How long a dashboard session lasts (`admin.session_ttl`), ms. */
  readonly sessionTtlMs: number
  /** `auth`: null = required once any consumer exists. */
  readonly auth: 'required' | 'off' | null
  /** Consumer tiers by name, as the config gives them (a consumer's overrides merge over them). */
  readonly tiers: ReadonlyMap<string, ConsumerSettingsInput>
  readonly prices: PriceTable
  readonly usage: { readonly retentionMs: number; readonly buffer: number }
  /** CORS for browsers; null = off (no CORS headers). */
  readonly cors: CorsSettings | null
  /** Every provider secret, indexed for finding whole keys or pieces of them in upstream text. */
  readonly secrets: SecretIndex
}
