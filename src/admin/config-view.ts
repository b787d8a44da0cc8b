import type { ReloadResult } from '../config/holder.js'
import type { ConfigIssue } from '../config/load.js'
import type { Deployment, ModelRoute, Provider, Runtime } from '../config/runtime.js'
import { priorityNames } from '../core/queue/priority.js'
import { SluiceError } from '../errors.js'
import { redactUrl } from '../store/database-url.js'
import { iso, ok } from './consumers.js'
import type { Router } from './router.js'

// The running configuration, as compiled: what the gateway is doing now, not what the file says
// now (the file may have changed, or failed to load, since). No secret appears in any part:
// provider keys and admin keys are "***" whole — never a prefix or suffix, which would help
// guess them — and the database URL loses its password.

const base = '/api/admin'
const masked = '***'

export interface ConfigViewDeps {
  readonly runtime: () => Runtime
  /** The gateway's reload: loads and compiles the config again, the old one keeps serving on failure. */
  readonly reload: () => ReloadResult
}

export function addConfigRoutes(router: Router, deps: ConfigViewDeps): void {
  router.add('GET', `${base}/tiers`, { role: 'read', summary: 'The consumer tiers of the running config' }, () => {
    const runtime = deps.runtime()
    return ok({ object: 'list', generation: runtime.generation, data: [...runtime.tiers].map(([name, tier]) => ({ name, ...tier })) })
  })

  router.add('GET', `${base}/config`, { role: 'read', summary: 'The running configuration, secrets masked' }, () => {
    const runtime = deps.runtime()
    return ok(scrubbed(describeRuntime(runtime), runtime))
  })

  router.add('POST', `${base}/reload`, { role: 'admin', summary: 'Load and apply the configuration again; on errors the running one stays' }, () => {
    const runtime = deps.runtime()
    const result = deps.reload()
    if (result.ok) return ok({ ok: true, generation: result.generation })
    // Issues name paths, lines and rules, never values; the running keys are scrubbed anyway.
    const text = `${result.error.file}: ${result.error.issues.map(describeIssue).join('; ')}`
    throw new SluiceError('invalid_config', [scrubText(text, runtime)])
  })
}

function describeIssue(i: ConfigIssue): string {
  return `${i.line === null ? '' : `line ${i.line}: `}${i.path === '' ? '' : `${i.path}: `}${i.message}`
}

function describeRuntime(rt: Runtime) {
  const s = rt.server
  return {
    generation: rt.generation,
    loaded_at: iso(rt.loadedAt),
    source: rt.source,
    server: {
      host: s.host,
      port: s.port,
      metrics_port: s.metricsPort,
      body_limit: s.bodyLimit,
      drain_timeout_ms: s.drainTimeoutMs,
      keep_alive_timeout_ms: s.keepAliveTimeoutMs,
      request_timeout_ms: s.requestTimeoutMs,
    },
    log: { level: rt.log.level, access_log: rt.log.accessLog },
    state: rt.state.kind === 'memory' ? 'memory' : { where: rt.state.where, key_prefix: rt.state.keyPrefix, timeout_ms: rt.state.commandTimeoutMs, password: rt.state.password === null ? null : masked },
    database: redactUrl(rt.database),
    admin: { keys: rt.adminKeys.map(() => masked), read_only_keys: rt.readOnlyKeys.map(() => masked) },
    auth: rt.auth,
    providers: Object.fromEntries([...rt.providers.values()].map((p) => [p.id, describeProvider(p, rt)])),
    models: Object.fromEntries(routesOf(rt).map((route) => [route.name, describeRoute(route, rt)])),
    passthrough: rt.passthrough === null ? null : { provider: rt.passthrough.id },
    queue: {
      max_size: rt.queue.maxSize,
      per_consumer: rt.queue.perConsumer,
      when_full: rt.queue.whenFull,
      max_wait_ms: Object.fromEntries(priorityNames.map((name, i) => [name, rt.queue.maxWaitMs[i as 0 | 1 | 2 | 3]])),
      keepalive_ms: rt.queue.keepaliveMs,
    },
    retries: { max: rt.retries.max, budget: rt.retries.budget, min_budget: rt.retries.minBudget, panic_mode: rt.retries.panicMode },
    pacing: { output_reserve: rt.outputReserve },
    tiers: Object.fromEntries(rt.tiers),
    pricing: pricesOf(rt),
    usage: { retention_ms: rt.usage.retentionMs, buffer: rt.usage.buffer },
    cors: rt.cors === null ? null : { origins: [...rt.cors.origins], credentials: rt.cors.credentials, max_age_seconds: Number(rt.cors.maxAgeSeconds) },
  }
}

function describeProvider(p: Provider, rt: Runtime) {
  // A key's pacer ceilings live on its deployments; a key no route uses has none to show.
  const pacers = new Map<string, Deployment['pacer']>()
  for (const route of rt.models.values()) for (const d of route.deployments) if (d.provider === p && !pacers.has(d.key.id)) pacers.set(d.key.id, d.pacer)
  const probes = new Map(rt.probes.map((probe) => [probe.id, probe]))
  return {
    type: p.dialect.type,
    origin: p.origin,
    stream_usage: p.streamUsage,
    timeouts: { connect_ms: p.timeouts.connectMs, first_byte_ms: p.timeouts.firstByteMs, idle_ms: p.timeouts.idleMs, total_ms: p.timeouts.totalMs },
    keys: p.keys.map((k) => {
      const pacer = pacers.get(k.id)
      const probe = probes.get(k.breaker.id)
      return {
        id: k.id,
        key: masked,
        ...(pacer === undefined ? {} : { rpm: finite(pacer.requests.ceiling), tpm: finite(pacer.tokens.ceiling) }),
        // As in force: an admin's choice through the adaptive API wins over the file until the file changes.
        max_concurrent: k.limit.fixed,
        health_check: probe === undefined ? null : { method: probe.method, path: probe.path, model: probeModel(probe.body), interval_ms: probe.intervalMs, timeout_ms: probe.timeoutMs },
      }
    }),
  }
}

/** Each route once, under its own name (aliases are listed with it). */
function routesOf(rt: Runtime): ModelRoute[] {
  return [...rt.models].filter(([name, route]) => name === route.name).map(([, route]) => route)
}

function describeRoute(route: ModelRoute, rt: Runtime) {
  // One target is one deployment per key of its provider; fold them back into targets.
  const targets: { provider: string; model: string; weight: number; group: string | null; keys: string[] }[] = []
  for (const d of route.deployments) {
    const same = targets.find((t) => t.provider === d.provider.id && t.model === d.upstreamModel && t.weight === d.weight && t.group === d.group)
    if (same) same.keys.push(d.key.id)
    else targets.push({ provider: d.provider.id, model: d.upstreamModel, weight: d.weight, group: d.group, keys: [d.key.id] })
  }
  return {
    targets,
    strategy: route.strategy.name,
    fallbacks: route.fallbacks,
    aliases: [...rt.models].filter(([name, r]) => r === route && name !== route.name).map(([name]) => name),
    split: route.split === null ? null : Object.fromEntries(route.split.groups.map((g) => [g.name, g.weight])),
    ab_test: route.split?.abHeaderName ? { header: route.split.abHeaderName } : null,
    owned_by: (JSON.parse(route.modelJson) as { owned_by: string }).owned_by,
  }
}

/**
 * Prices of the models this config routes, by client name and upstream name, USD per million
 * tokens. The compiled price table cannot be listed, so a price for a name no route uses
 * (a passthrough model) applies but is not shown.
 */
function pricesOf(rt: Runtime): Record<string, { input: number; output: number }> {
  const names = new Set<string>()
  for (const [name, route] of rt.models) {
    names.add(name)
    for (const d of route.deployments) names.add(d.upstreamModel)
  }
  const out: Record<string, { input: number; output: number }> = {}
  for (const name of [...names].sort()) {
    if (rt.prices.has(name)) out[name] = { input: rt.prices.costOf(name, 1e6, 0), output: rt.prices.costOf(name, 0, 1e6) }
  }
  return out
}

function probeModel(body: Buffer | null): string | null {
  if (body === null) return null
  try {
    const model = (JSON.parse(body.toString('utf8')) as { model?: unknown }).model
    return typeof model === 'string' ? model : null
  } catch {
    return null
  }
}

function finite(n: number): number | null {
  return Number.isFinite(n) ? n : null
}

/**
 * Every string of the view with any piece of a provider key or an admin key masked: the view
 * is built to hold none, and this makes sure a name that quotes one (a key id equal to its
 * secret, a header) cannot carry it out either.
 */
function scrubbed(value: unknown, rt: Runtime): unknown {
  if (typeof value === 'string') return scrubText(value, rt)
  if (Array.isArray(value)) return value.map((v) => scrubbed(v, rt))
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [scrubText(k, rt), scrubbed(v, rt)]))
  return value
}

function scrubText(text: string, rt: Runtime): string {
  let out = rt.secrets.redact(text, masked)
  for (const key of [...rt.adminKeys, ...rt.readOnlyKeys]) out = out.split(key).join(masked)
  return out
}
