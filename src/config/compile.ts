import type { Dispatcher } from 'undici'
import { PriceTable } from '../core/admit/index.js'
import { createStrategy, PeakEwma } from '../core/balance/index.js'
import { BreakerRegistry, breakerId, type BreakerSettings } from '../core/breaker/index.js'
import { LimitRegistry, limitId } from '../core/limit/registry.js'
import { PacerRegistry } from '../core/pacer/registry.js'
import { probeRequest } from '../health/probe-request.js'
import { SecretIndex } from '../core/secrets/secret-index.js'
import { dialects } from '../providers/dialects.js'
import { endpoints, type Endpoint, type ProviderSettings } from '../providers/types.js'
import { parseRedisUrl, type StateSettings } from '../state/settings.js'
import type { UpstreamPools } from './pools.js'
import type { Deployment, ModelRoute, ProbeSpec, Provider, ProviderKey, RouteSplit, Runtime, SplitGroup } from './runtime.js'
import { forwardHeaderList } from '../core/headers/forward.js'
import { wildcardPattern, type ModelConfigParsed, type ProviderConfigParsed, type SluiceConfigParsed } from './schema.js'

const userAgent = 'sluice/0.1'
/** Distinct names one wildcard config may materialize routes for; more would let clients grow memory at will. */
const maxWildcardRoutes = 1024
/** Time-to-first-token estimates decay with this time constant (research/algorithms.md §4.1). */
const ttftDecayMs = 10_000

export interface CompileOptions {
  readonly generation: number
  readonly source: string
  readonly pools: UpstreamPools
  /** Pacers outlive a config generation; a reload finds its keys' pacers here. Default: fresh ones. */
  readonly pacers?: PacerRegistry
  /** Concurrency limits outlive a config generation too. Default: fresh ones. */
  readonly limits?: LimitRegistry
  /** So do breakers … */
  readonly breakers?: BreakerRegistry
  /** … and time-to-first-token estimates, by deployment id. */
  readonly latencies?: Map<string, PeakEwma>
  readonly now?: () => number
}

/** Turns a validated config into the frozen objects the request path reads. No I/O besides pool creation. */
export function compile(cfg: SluiceConfigParsed, opts: CompileOptions): Runtime {
  const providers = new Map<string, Provider>()
  const limits = opts.limits ?? new LimitRegistry()
  const breakers = opts.breakers ?? new BreakerRegistry()
  const liveLimits = new Set<string>()
  for (const [id, p] of Object.entries(cfg.providers)) {
    providers.set(id, compileProvider(id, p, opts.pools, limits, breakers))
    for (const k of p.keys) liveLimits.add(limitId(id, k.id))
  }

  const pacers = opts.pacers ?? new PacerRegistry()
  const latencies = opts.latencies ?? new Map<string, PeakEwma>()
  const livePacers = new Set<string>()
  const liveDeployments = new Set<string>()
  const created = Math.floor((opts.now ?? Date.now)() / 1000)
  const build = (name: string, m: ModelConfigParsed): ModelRoute =>
    compileRoute(name, m, cfg, created, { providers, pacers, latencies, livePacers, liveDeployments })
  const models = new Map<string, ModelRoute>()
  const patterns: { readonly match: RegExp; readonly config: ModelConfigParsed }[] = []
  for (const [name, m] of Object.entries(cfg.models)) {
    if (name.includes('*')) {
      patterns.push({ match: wildcardPattern(name), config: m })
      continue
    }
    const route = build(name, m)
    models.set(name, route)
    for (const alias of m.aliases) models.set(alias, route)
  }
  const materialized = new Map<string, ModelRoute>()
  const resolveModel = (name: string): ModelRoute | null => {
    const exact = models.get(name) ?? materialized.get(name)
    if (exact !== undefined) return exact
    for (const p of patterns) {
      if (!p.match.test(name)) continue
      if (materialized.size >= maxWildcardRoutes) return null
      const route = build(name, p.config)
      materialized.set(name, route)
      return route
    }
    return null
  }

  const modelListJson = `{"object":"list","data":[${[...models.keys()].map((name) => listEntry(name, models.get(name) as ModelRoute, created)).join(',')}]}`
  const secrets = new SecretIndex([...providers.values()].flatMap((p) => p.secrets))
  const probes = compileProbes(cfg, providers, pacers, livePacers)
  pacers.retain(livePacers)
  limits.retain(liveLimits)
  breakers.retain(liveLimits)
  // The ejection cap counts a model's keys: every key of every provider its targets name.
  breakers.setGroups(Object.values(cfg.models).map((m) => m.targets.flatMap((t) => (cfg.providers[t.provider]?.keys ?? []).map((k) => breakerId(t.provider, k.id)))))
  for (const id of latencies.keys()) if (!liveDeployments.has(id)) latencies.delete(id)

  return Object.freeze({
    generation: opts.generation,
    loadedAt: (opts.now ?? Date.now)(),
    source: opts.source,
    server: Object.freeze({
      host: cfg.server.host,
      port: cfg.server.port,
      metricsPort: cfg.server.metrics_port,
      bodyLimit: cfg.server.body_limit,
      drainTimeoutMs: cfg.server.drain_timeout,
      keepAliveTimeoutMs: cfg.server.keep_alive_timeout,
      requestTimeoutMs: cfg.server.request_timeout,
    }),
    log: Object.freeze({ level: cfg.log.level, accessLog: cfg.log.access_log }),
    providers,
    models,
    resolveModel,
    modelListJson,
    retries: Object.freeze({ max: cfg.retries.max, budget: cfg.retries.budget, minBudget: cfg.retries.min_budget, panicMode: cfg.retries.panic_mode }),
    probes: Object.freeze(probes),
    metricsOrigins: Object.freeze([...new Set(Object.values(cfg.models).filter((m) => m.strategy === 'metrics').flatMap((m) => m.targets.map((t) => (providers.get(t.provider) as Provider).origin)))]),
    passthrough: cfg.passthrough ? (providers.get(cfg.passthrough.provider) ?? null) : null,
    queue: Object.freeze({
      maxSize: cfg.queue.max_size,
      perConsumer: cfg.queue.per_consumer,
      whenFull: cfg.queue.when_full,
      maxWaitMs: Object.freeze({ 0: cfg.queue.max_wait.urgent, 1: cfg.queue.max_wait.high, 2: cfg.queue.max_wait.normal, 3: cfg.queue.max_wait.low }),
      keepaliveMs: cfg.queue.keepalive,
    }),
    outputReserve: cfg.pacing.output_reserve,
    state: compileState(cfg.state),
    database: cfg.database,
    adminKeys: Object.freeze([...cfg.admin.keys]),
    readOnlyKeys: Object.freeze([...cfg.admin.read_only_keys]),
    sessionTtlMs: cfg.admin.session_ttl,
    auth: cfg.auth,
    tiers: new Map(Object.entries(cfg.tiers).map(([name, t]) => [name, Object.freeze(t)])),
    prices: new PriceTable(cfg.pricing),
    usage: Object.freeze({ retentionMs: cfg.usage.retention, buffer: cfg.usage.buffer }),
    cors:
      cfg.cors.origins.length === 0
        ? null
        : Object.freeze({ origins: new Set(cfg.cors.origins), any: cfg.cors.origins.includes('*'), credentials: cfg.cors.credentials, maxAgeSeconds: String(Math.round(cfg.cors.max_age / 1000)) }),
    secrets,
  })
}

interface RouteParts {
  readonly providers: ReadonlyMap<string, Provider>
  readonly pacers: PacerRegistry
  readonly latencies: Map<string, PeakEwma>
  readonly livePacers: Set<string>
  readonly liveDeployments: Set<string>
}

function compileRoute(name: string, m: ModelConfigParsed, cfg: SluiceConfigParsed, created: number, parts: RouteParts): ModelRoute {
  const deployments: Deployment[] = []
  for (const target of m.targets) {
    const provider = parts.providers.get(target.provider)
    if (!provider) throw new Error(`unknown provider ${target.provider}`) // checked by the schema already
    const upstreamModel = target.model ?? name
    const providerConfig = cfg.providers[target.provider] as ProviderConfigParsed
    const settings = providerSettings(providerConfig)
    const paths = Object.fromEntries(endpoints.map((e) => [e, provider.dialect.path(e, upstreamModel, settings)])) as Record<Endpoint, string | null>
    provider.keys.forEach((key, i) => {
      const keyConfig = providerConfig.keys[i]!
      const perModel = providerConfig.limit_scope === 'key-model'
      const pacer = parts.pacers.obtain(provider.id, key.id, perModel ? upstreamModel : null, { rpm: keyConfig.rpm, tpm: keyConfig.tpm })
      parts.livePacers.add(pacer.id)
      const id = `${provider.id}/${key.id}/${upstreamModel}`
      parts.liveDeployments.add(id)
      let ttft = parts.latencies.get(id)
      if (!ttft) parts.latencies.set(id, (ttft = new PeakEwma(ttftDecayMs)))
      deployments.push(
        Object.freeze({
          id,
          provider,
          key,
          upstreamModel,
          upstreamModelJson: JSON.stringify(upstreamModel),
          paths: Object.freeze(paths),
          pacer,
          limit: key.limit,
          breaker: key.breaker,
          ttft,
          weight: target.weight,
          group: target.group ?? null,
          origin: provider.origin,
        }),
      )
    })
  }
  const byEndpoint = perEndpoint(deployments)
  const modelJson = JSON.stringify({ id: name, object: 'model', created, owned_by: m.owned_by })
  return Object.freeze({
    name,
    deployments: Object.freeze(deployments),
    byEndpoint,
    modelJson,
    strategy: createStrategy(m.strategy),
    fallbacks: Object.freeze([...m.fallbacks]),
    split: compileSplit(m, deployments),
  })
}

function perEndpoint(deployments: readonly Deployment[]): Readonly<Record<Endpoint, readonly Deployment[]>> {
  return Object.freeze(Object.fromEntries(endpoints.map((e) => [e, Object.freeze(deployments.filter((d) => d.paths[e] !== null))])) as Record<Endpoint, readonly Deployment[]>)
}

function compileSplit(m: ModelConfigParsed, deployments: readonly Deployment[]): RouteSplit | null {
  if (!m.split) return null
  const groups: SplitGroup[] = Object.entries(m.split).map(([name, weight]) => Object.freeze({ name, weight, byEndpoint: perEndpoint(deployments.filter((d) => d.group === name)) }))
  return Object.freeze({
    groups: Object.freeze(groups),
    totalWeight: groups.reduce((sum, g) => sum + g.weight, 0),
    abHeader: m.ab_test ? m.ab_test.header.toLowerCase() : null,
    abHeaderName: m.ab_test ? m.ab_test.header : null,
  })
}

/** /v1/models lists every name a client may send: models and aliases (an alias under its own id). */
function listEntry(name: string, route: ModelRoute, created: number): string {
  return name === route.name ? route.modelJson : JSON.stringify({ id: name, object: 'model', created, owned_by: (JSON.parse(route.modelJson) as { owned_by: string }).owned_by })
}

function breakerSettings(p: ProviderConfigParsed): BreakerSettings {
  const f = p.failover
  return {
    failureThreshold: f.failure_threshold,
    failureRate: f.failure_rate,
    minRequests: f.min_requests,
    windowMs: f.window,
    openMs: f.open_for,
    maxOpenMs: Math.max(f.open_for, f.max_open_for),
    successThreshold: f.success_threshold,
    jitter: 0.1,
    probes: f.enabled && p.health_check !== null,
    maxEjectionPercent: f.max_ejection_percent,
  }
}

/** One probe per key of every provider with failover on: a one-token chat request, or a GET on a self-hosted server. */
function compileProbes(cfg: SluiceConfigParsed, providers: ReadonlyMap<string, Provider>, pacers: PacerRegistry, livePacers: Set<string>): ProbeSpec[] {
  const probes: ProbeSpec[] = []
  for (const [id, p] of Object.entries(cfg.providers)) {
    const check = p.health_check
    if (!p.failover.enabled || !check) continue
    const provider = providers.get(id) as Provider
    const settings = providerSettings(p)
    const endpoint: Endpoint = p.type === 'anthropic' ? 'messages' : 'chat'
    const chatPath = check.model !== undefined ? provider.dialect.path(endpoint, check.model, settings) : null
    provider.keys.forEach((key, i) => {
      const breaker = key.breaker
      const common = { id: breaker.id, breaker, dispatcher: provider.dispatcher, origin: provider.origin, intervalMs: check.interval, timeoutMs: check.timeout }
      if (chatPath !== null && check.model !== undefined) {
        const keyConfig = p.keys[i]!
        const pacer = pacers.obtain(id, key.id, p.limit_scope === 'key-model' ? check.model : null, { rpm: keyConfig.rpm, tpm: keyConfig.tpm })
        livePacers.add(pacer.id)
        const { body, tokens } = probeRequest(p.type, check.model)
        probes.push(Object.freeze({ ...common, pacer, tokens, method: 'POST' as const, path: chatPath, headers: key.jsonRequestHeaders, body }))
      } else {
        probes.push(Object.freeze({ ...common, pacer: null, tokens: 0, method: 'GET' as const, path: check.path ?? '/health', headers: key.headers, body: null }))
      }
    })
  }
  return probes
}

/** The dispatchers a runtime uses, so pools dropped by a reload can be closed. */
export function dispatchersOf(runtime: Runtime): Set<Dispatcher> {
  return new Set([...runtime.providers.values()].map((p) => p.dispatcher))
}

function providerSettings(p: ProviderConfigParsed): ProviderSettings {
  const dialect = dialects[p.type]
  const raw = p.base_url ?? dialect.defaultBaseUrl
  if (!raw) throw new Error(`provider of type ${p.type} needs base_url`) // checked by the schema already
  return { baseUrl: new URL(raw), apiVersion: p.api_version ?? '2024-10-21', anthropicVersion: p.anthropic_version ?? '2023-06-01' }
}

function compileProvider(id: string, p: ProviderConfigParsed, pools: UpstreamPools, limits: LimitRegistry, breakers: BreakerRegistry): Provider {
  const dialect = dialects[p.type]
  const settings = providerSettings(p)
  const origin = settings.baseUrl.origin
  const staticHeaders = Object.entries(p.headers).map(([k, v]) => [k.toLowerCase(), v] as const)
  const keys: ProviderKey[] = p.keys.map((k) => {
    const headers = [...Object.entries(dialect.authHeaders(k.key, settings)), ...staticHeaders, ['user-agent', userAgent] as const].flat()
    return Object.freeze({
      id: k.id,
      headers: Object.freeze(headers),
      jsonRequestHeaders: Object.freeze([...headers, 'content-type', 'application/json', 'accept', 'application/json']),
      streamRequestHeaders: Object.freeze([...headers, 'content-type', 'application/json', 'accept', 'text/event-stream']),
      limit: limits.obtain(id, k.id, k.max_concurrent),
      breaker: breakers.obtain(id, k.id, breakerSettings(p)),
    })
  })
  return Object.freeze({
    id,
    dialect,
    origin,
    dispatcher: pools.get({ origin, connections: p.max_connections, connectTimeoutMs: p.timeouts.connect }),
    timeouts: Object.freeze({
      connectMs: p.timeouts.connect,
      firstByteMs: p.timeouts.first_byte,
      idleMs: p.timeouts.idle,
      totalMs: p.timeouts.total,
    }),
    keys: Object.freeze(keys),
    streamUsage: p.type !== 'anthropic' && p.stream_usage,
    forwardHeaders: forwardHeaderList(p.type, p.forward_headers),
    defaultMaxTokens: p.default_max_tokens,
    secrets: Object.freeze(p.keys.map((k) => k.key)),
    passthroughPath: (below: string) => dialect.passthroughPath(below, settings),
  })
}

const memoryState: StateSettings = Object.freeze({ kind: 'memory' })

/** `state:` as parsed → what openSharedState takes (also for `sluice keys`, which reads only a few fields). */
export function compileState(state: SluiceConfigParsed['state']): StateSettings {
  if (state === 'memory') return memoryState
  if (typeof state === 'string') return parseRedisUrl(state)
  return parseRedisUrl(state.url, { password: state.password, keyPrefix: state.key_prefix, commandTimeoutMs: state.timeout })
}
