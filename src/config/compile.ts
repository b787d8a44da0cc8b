import type { Dispatcher } from 'undici'
import { LimitRegistry, limitId } from '../core/limit/registry.js'
import { PacerRegistry } from '../core/pacer/registry.js'
import { SecretIndex } from '../core/secrets/secret-index.js'
import { dialects } from '../providers/dialects.js'
import { endpoints, type Endpoint, type ProviderSettings } from '../providers/types.js'
import type { UpstreamPools } from './pools.js'
import type { Deployment, ModelRoute, Provider, ProviderKey, Runtime } from './runtime.js'
import type { ProviderConfigParsed, SluiceConfigParsed } from './schema.js'

const userAgent = 'sluice/0.1'

export interface CompileOptions {
  readonly generation: number
  readonly source: string
  readonly pools: UpstreamPools
  /** Pacers outlive a config generation; a reload finds its keys' pacers here. Default: fresh ones. */
  readonly pacers?: PacerRegistry
  /** Concurrency limits outlive a config generation too. Default: fresh ones. */
  readonly limits?: LimitRegistry
  readonly now?: () => number
}

/** Turns a validated config into the frozen objects the request path reads. No I/O besides pool creation. */
export function compile(cfg: SluiceConfigParsed, opts: CompileOptions): Runtime {
  const providers = new Map<string, Provider>()
  const limits = opts.limits ?? new LimitRegistry()
  const liveLimits = new Set<string>()
  for (const [id, p] of Object.entries(cfg.providers)) {
    providers.set(id, compileProvider(id, p, opts.pools, limits))
    for (const k of p.keys) liveLimits.add(limitId(id, k.id))
  }

  const pacers = opts.pacers ?? new PacerRegistry()
  const livePacers = new Set<string>()
  const models = new Map<string, ModelRoute>()
  const created = Math.floor((opts.now ?? Date.now)() / 1000)
  for (const [name, m] of Object.entries(cfg.models)) {
    const deployments: Deployment[] = []
    for (const target of m.targets) {
      const provider = providers.get(target.provider)
      if (!provider) throw new Error(`unknown provider ${target.provider}`) // checked by the schema already
      const upstreamModel = target.model ?? name
      const providerConfig = cfg.providers[target.provider] as ProviderConfigParsed
      const settings = providerSettings(providerConfig)
      const paths = Object.fromEntries(endpoints.map((e) => [e, provider.dialect.path(e, upstreamModel, settings)])) as Record<Endpoint, string | null>
      provider.keys.forEach((key, i) => {
        const keyConfig = providerConfig.keys[i]!
        const perModel = providerConfig.limit_scope === 'key-model'
        const pacer = pacers.obtain(provider.id, key.id, perModel ? upstreamModel : null, { rpm: keyConfig.rpm, tpm: keyConfig.tpm })
        livePacers.add(pacer.id)
        deployments.push(
          Object.freeze({ id: `${provider.id}/${key.id}/${upstreamModel}`, provider, key, upstreamModel, upstreamModelJson: JSON.stringify(upstreamModel), paths: Object.freeze(paths), pacer, limit: key.limit }),
        )
      })
    }
    const byEndpoint = Object.fromEntries(endpoints.map((e) => [e, Object.freeze(deployments.filter((d) => d.paths[e] !== null))])) as Record<Endpoint, readonly Deployment[]>
    const modelJson = JSON.stringify({ id: name, object: 'model', created, owned_by: m.owned_by })
    models.set(name, Object.freeze({ name, deployments: Object.freeze(deployments), byEndpoint: Object.freeze(byEndpoint), modelJson }))
  }

  const modelListJson = `{"object":"list","data":[${[...models.values()].map((m) => m.modelJson).join(',')}]}`
  const secrets = new SecretIndex([...providers.values()].flatMap((p) => p.secrets))
  pacers.retain(livePacers)
  limits.retain(liveLimits)

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
    modelListJson,
    passthrough: cfg.passthrough ? (providers.get(cfg.passthrough.provider) ?? null) : null,
    queue: Object.freeze({
      maxSize: cfg.queue.max_size,
      perConsumer: cfg.queue.per_consumer,
      whenFull: cfg.queue.when_full,
      maxWaitMs: Object.freeze({ 0: cfg.queue.max_wait.urgent, 1: cfg.queue.max_wait.high, 2: cfg.queue.max_wait.normal, 3: cfg.queue.max_wait.low }),
      keepaliveMs: cfg.queue.keepalive,
    }),
    outputReserve: cfg.pacing.output_reserve,
    database: cfg.database,
    adminKeys: Object.freeze([...cfg.admin.keys]),
    secrets,
  })
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

function compileProvider(id: string, p: ProviderConfigParsed, pools: UpstreamPools, limits: LimitRegistry): Provider {
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
    secrets: Object.freeze(p.keys.map((k) => k.key)),
    passthroughPath: (below: string) => dialect.passthroughPath(below, settings),
  })
}
