import { EventEmitter } from 'node:events'
import { readFileSync } from 'node:fs'
import type { Server } from 'node:http'
import type { Logger } from 'pino'
import { ConfigHolder, type ConfigSource, type ReloadResult } from './config/holder.js'
import { UpstreamPools } from './config/pools.js'
import type { Runtime } from './config/runtime.js'
import { watchFile } from './config/watch.js'
import { addAdaptiveRoutes } from './admin/adaptive.js'
import { addDeploymentRoutes } from './admin/deployments.js'
import { addConsumerRoutes } from './admin/consumers.js'
import { addUsageRoutes } from './admin/usage.js'
import { addDailyUsageRoute } from './admin/usage-daily.js'
import { addConfigRoutes } from './admin/config-view.js'
import { addClusterRoutes } from './admin/cluster.js'
import type { Route } from './admin/router.js'
import type { PeakEwma } from './core/balance/index.js'
import { PinTable } from './core/balance/pins.js'
import { SharedPinTable } from './core/balance/shared-pins.js'
import { BreakerRegistry } from './core/breaker/index.js'
import { Prober, VllmMetricsScraper } from './health/index.js'
import { createAdminHandler, Router } from './admin/index.js'
import { every, systemClock, systemTimers, type Clock, type Timers } from './core/clock.js'
import { LimitRegistry } from './core/limit/registry.js'
import { PacerRegistry } from './core/pacer/registry.js'
import { createPipeline } from './pipeline.js'
import { Drain } from './server/drain.js'
import { createHandler, serveMetrics } from './server/handler.js'
import { Scheduler } from './stages/schedule/index.js'
import { listen } from './server/listen.js'
import { StatusTracker } from './server/status.js'
import { LearningWriter } from './store/learning-writer.js'
import { openStore } from './store/open.js'
import { DatabaseAvailability } from './store/availability.js'
import { UsageWriter } from './store/usage-writer.js'
import { LimiterRegistry } from './core/admit/index.js'
import { ConsumerDirectory, callerCheck, type KeyRecord } from './stages/auth/index.js'
import { openApiDocument } from './admin/openapi.js'
import type { ConsumerRow, Store, VirtualKeyRow } from './store/types.js'
import type { ConsumerSettingsInput } from './core/admit/index.js'
import { createLogger, droppedLogLines, flushLogger, flushLoggerSync } from './telemetry/logger.js'
import { createDashboard, dashboardGauges, type Dashboard } from './dashboard/index.js'
import { SluiceError } from './errors.js'
import { Closers } from './lifecycle.js'
import { ConfigError } from './config/load.js'
import { sqliteBesideRedis } from './config/references.js'
import { instanceTtlMs, openSharedState, StateScriptError, StateUnavailableError, type SharedState, type StateSettings } from './state/index.js'
import { Cluster, type ClusterSnapshot } from './state/cluster.js'
import type { SharedConsumerLimits } from './stages/admit/index.js'
import { InvalidationRelay } from './state/invalidation-relay.js'
import { SpendBacklog } from './state/spend-backlog.js'
import { SettlementBatch } from './state/settlement-batch.js'
import type { ConsumerCache } from './admin/consumers.js'
import { createMetrics, type Metrics } from './telemetry/metrics.js'

// The composition root: the only file that joins adapters to ports.

const version = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version

export interface GatewayOptions {
  readonly config: ConfigSource
  readonly logger?: Logger
  readonly env?: NodeJS.ProcessEnv
  /** Overrides server.port (0 = a free port), e.g. for tests. */
  readonly port?: number
  /** Watch the config file and reload on change. Default: true for files. */
  readonly watch?: boolean
  /** Collect Node's default process metrics. Default true. */
  readonly processMetrics?: boolean
  /** Overrides the config's `database` (e.g. sqlite::memory: for tests). */
  readonly database?: string
  /** Monotonic time for the scheduler and pacers; for benchmarks that run time faster. */
  readonly clock?: Clock
  /** The timers that go with `clock` (queue deadlines, wake-ups, probes); a test's fake moves both. */
  readonly timers?: Timers
  /** Wall-clock epoch ms for what the concurrency limits record. */
  readonly epoch?: Clock
  /** The virtual-key cache's TTL, stale-if-error bound, retry interval and clock (default performance.now); for tests. */
  readonly authCache?: { readonly ttlMs?: number; readonly staleIfErrorMs?: number; readonly retryMs?: number; readonly now?: () => number }
}

export interface Gateway {
  readonly url: string
  readonly port: number
  readonly metricsPort: number | null
  readonly logger: Logger
  readonly metrics: Metrics
  readonly store: Store
  /** The shared-state ports `state:` opened (in memory for one instance). */
  readonly shared: SharedState
  /** The admin API's route table (method, path, role), e.g. for tests that check every route's authorization. */
  readonly adminRoutes: readonly Route[]
  runtime(): Runtime
  /** Loads and compiles the config again; the old one keeps serving if the new one fails. */
  reload(): ReloadResult
  /** Emits 'reload' with each ReloadResult (from SIGHUP, a file change or reload()). */
  readonly events: EventEmitter<{ reload: [ReloadResult] }>
  /** Graceful: refuse new work, finish in-flight up to the drain deadline, close. True if everything finished. */
  shutdown(): Promise<boolean>
}

export async function startGateway(opts: GatewayOptions): Promise<Gateway> {
  // Everything opened from here on is registered as it opens; a failed start closes the lot.
  const closers = new Closers()
  let drained = false
  try {
    return await assemble(opts, closers, () => drained, (clean) => (drained = clean))
  } catch (err) {
    await closers.closeAll((name, closeErr) => opts.logger?.warn({ err: (closeErr as Error).message, part: name }, 'could not close cleanly after a failed start'))
    throw err
  }
}

/** Opens the gateway's parts in order, each registered in `closers` as it opens. */
async function assemble(opts: GatewayOptions, closers: Closers, drainedCleanly: () => boolean, setDrained: (clean: boolean) => void): Promise<Gateway> {
  const pools = new UpstreamPools()
  // Upstream sockets go last: a clean drain lets their exchanges finish, otherwise they are cut.
  closers.add('upstream pools', () => (drainedCleanly() ? pools.close() : pools.destroy()))
  const pacers = new PacerRegistry()
  const limits = new LimitRegistry()
  const breakers = new BreakerRegistry()
  const holder = new ConfigHolder({ source: opts.config, pools, env: opts.env, pacers, limits, breakers, latencies: new Map<string, PeakEwma>() })
  const initial = holder.current
  const logger = opts.logger ?? createLogger({ level: initial.log.level })
  const timers = opts.timers ?? systemTimers
  const databaseUrl = opts.database ?? initial.database
  const shared = await openState(initial.state, databaseUrl, logger)
  closers.add('shared state', () => shared.close())
  const store = await openStore(databaseUrl, { onWarning: (message) => logger.warn(message) })
  closers.add('database', () => store.close())
  limits.restore(await store.keyLearning.loadAll())
  const writer = new LearningWriter(limits, store.keyLearning, {
    timers,
    onError: (err) => logger.warn({ err: (err as Error).message }, 'could not store learned concurrency limits; will retry'),
  })
  closers.add('learned-limit writer', () => writer.close())
  // Whether the database answers: readiness says degraded while it does not (README, "Consumers and virtual keys").
  const database = new DatabaseAvailability({
    probe: () => store.consumers.count(),
    onLost: (err) => logger.warn({ err: (err as Error).message }, 'the database cannot be reached: known keys are served from the cache, usage records are buffered'),
    onRecovered: () => {
      logger.info('the database answers again')
      void ledger.flush()
    },
  })
  closers.add('database availability', () => database.close())
  const ledger = new UsageWriter(store.usage, {
    capacity: initial.usage.buffer,
    timers,
    onDrop: () => metrics.usageDropped.series().inc(),
    onError: (err) => {
      database.failed(err)
      logger.warn({ err: (err as Error).message }, 'could not write usage records; will retry')
    },
    onWritten: () => database.answered(),
  })
  closers.add('usage ledger', () => ledger.close())
  const pruneUsage = (): void => {
    const retention = holder.current.usage.retentionMs
    if (retention > 0) void ledger.prune(retention).catch((err: unknown) => logger.warn({ err: (err as Error).message }, 'could not prune usage records'))
  }
  closers.add('usage pruning', every(timers, 3_600_000, pruneUsage))
  pruneUsage()
  const directory = new ConsumerDirectory(
    {
      findByHash: async (hash) => {
        const found = await store.virtualKeys.findByHash(hash)
        return found === null ? null : keyRecord(found.key, found.consumer)
      },
      countConsumers: () => store.consumers.count(),
    },
    opts.authCache?.now ?? (() => performance.now()),
    { ...opts.authCache, health: database },
  )
  // Several instances (issue 15): the registry, the degraded mode, admin changes published to all.
  // Another instance's admin fixed or freed a key's limit: its choice, as stored, is this instance's too.
  const adoptKeyLimit = async (id: string): Promise<void> => {
    const record = (await store.keyLearning.loadAll()).find((r) => r.id === id)
    const limit = record === undefined ? undefined : limits.adoptOverride(id, record.override)
    if (limit === undefined) return
    scheduler.limitChanged(limit)
    logger.info({ key: id, fixed: limit.fixed }, "a key's concurrency mode changed on another instance; this one follows")
  }
  const instances = await joinInstances(shared, {
    directory,
    logger,
    timers,
    closers,
    where: initial.state.kind === 'redis' ? initial.state.where : 'memory',
    permitKeys: () => [...limits.all()].map((l) => l.id),
    keyLimitChanged: (id) => void adoptKeyLimit(id).catch((err: unknown) => logger.warn({ err: (err as Error).message, key: id }, "could not read another instance's change to a key's concurrency mode")),
  })
  const { cluster } = instances
  const consumerLimits = new LimiterRegistry()
  // last_used_at of virtual keys, in one statement every 10 s rather than a write per request.
  const touchKeys = (): Promise<void> => {
    const ids = directory.takeUsed()
    return ids.length === 0 ? Promise.resolve() : store.virtualKeys.touchLastUsed(ids, Date.now()).catch((err: unknown) => logger.warn({ err: (err as Error).message }, 'could not record when keys were last used'))
  }
  const stopTouching = every(timers, 10_000, () => void touchKeys())
  closers.add('key last-used writer', () => {
    stopTouching()
    return touchKeys()
  })
  const status = new StatusTracker()
  status.degraded = () => (database.reachable ? (cluster.up ? null : 'state') : cluster.up ? 'database' : 'database,state')
  const metrics = createMetrics({
    defaultMetrics: opts.processMetrics,
    inFlight: () => status.inFlight,
    configGeneration: () => holder.current.generation,
    usageBuffer: () => ledger.pending,
    usageBufferCapacity: () => ledger.capacity,
    databaseUp: () => (database.reachable ? 1 : 0),
    stateUp: () => (cluster.up ? 1 : 0),
    stateInstances: () => cluster.liveInstances,
    logLinesDropped: () => droppedLogLines(logger),
  })
  const drain = new Drain(() => status.inFlight)
  const scraper = new VllmMetricsScraper({ clock: opts.clock ?? systemClock, timers })
  closers.add('vLLM metrics scraper', () => scraper.close())
  scraper.setOrigins(initial.metricsOrigins)
  const scheduler = new Scheduler({
    pacers,
    limits,
    breakers,
    shared,
    // Redis away: each instance keeps to its share of a key's limit, by the live count last seen.
    leases: {
      liveInstances: () => cluster.liveInstances,
      onError: (err) => logger.debug({ err: (err as Error).message }, 'permit leases: a Redis call failed; this instance keeps to its share'),
      onLost: (ref) => logger.warn({ key: ref.keyId }, 'a running request lost its permit lease (Redis was away longer than a lease lives); its slot may be counted twice until it ends'),
    },
    metrics,
    clock: opts.clock,
    timers,
    epoch: opts.epoch,
    readLoad: (d, slot) => {
      const load = scraper.load(d.origin)
      slot.queueDepth = load?.waiting ?? null
      slot.serverRunning = load?.running ?? null
      slot.cacheUsage = load?.kvCache ?? null
    },
  })
  closers.add('scheduler', () => scheduler.close())
  status.extra = () => ({ ...(scheduler.snapshot() as object), database: store.kind, state: instances.snapshot() })
  const prober = new Prober({
    clock: scheduler.clock,
    timers,
    breakers,
    shared,
    onSharedError: (err) => logger.debug({ err: (err as Error).message }, 'probe leadership: a Redis call failed; retrying'),
    onLeadership: (provider, leader, epoch) => logger.info({ provider, leader, epoch }, leader ? 'probe leader: this instance probes the keys of this provider' : 'probe leader: another instance probes the keys of this provider'),
    onBack: (target) => logger.info({ key: target.id }, 'key back in service'),
    onResult: (target, result) => {
      const b = breakers.get(target.id)
      if (b) metrics.probes.series(b.provider, b.key, result.ok ? 'pass' : result.failure === null ? 'neutral' : 'fail').inc()
    },
  })
  closers.add('prober', () => prober.close())
  prober.setTargets(initial.probes)

  const events = new EventEmitter<{ reload: [ReloadResult] }>()
  const reload = (): ReloadResult => {
    const before = holder.current
    const result = holder.reload()
    if (result.ok) {
      metrics.configReloads.series('applied').inc()
      const after = holder.current
      logger.level = after.log.level
      logger.info({ generation: result.generation, source: after.source }, 'configuration reloaded')
      // A limit raised in the file lets waiting requests go now, not when an answer ends.
      for (const limit of limits.all()) scheduler.limitChanged(limit)
      prober.setTargets(after.probes)
      scraper.setOrigins(after.metricsOrigins)
      const restartOnly = ['host', 'port', 'metricsPort', 'keepAliveTimeoutMs', 'requestTimeoutMs'] as const
      const changed = restartOnly.filter((k) => before.server[k] !== after.server[k])
      if (changed.length > 0) logger.warn({ fields: changed }, 'these server settings take effect at the next restart')
    } else {
      metrics.configReloads.series('rejected').inc()
      logger.error({ issues: result.error.issues, source: holder.current.source }, 'configuration rejected; the previous configuration keeps serving')
    }
    events.emit('reload', result)
    return result
  }

  const router = new Router()
  addAdaptiveRoutes(router, {
    limits,
    persist: () => writer.flush(),
    changed: (limit) => scheduler.limitChanged(limit),
    now: () => scheduler.epoch.now(),
    told: (limit) => instances.keyLimitChanged(limit.id),
  })
  addDeploymentRoutes(router, {
    runtime: () => holder.current,
    breakers,
    clock: () => scheduler.clock.now(),
    epoch: () => scheduler.epoch.now(),
    probe: (id) => prober.probeNow(id),
    probeStats: () => prober.stats(),
    shared,
    changed: () => undefined, // the scheduler hears every breaker change through the registry
  })
  addConsumerRoutes(router, { store, cache: instances.consumerCache, tiers: () => holder.current.tiers, now: () => scheduler.epoch.now() })
  addClusterRoutes(router, {
    snapshot: () => cluster.snapshot(),
    live: () => shared.instances.live(instanceTtlMs),
    keys: () => [...limits.all()].map((l) => ({ id: l.id, provider: l.provider, key: l.key, limit: l.effective })),
    permitsInUse: shared.kind === 'redis' ? (keyId) => shared.permits.inUse(keyId) : null,
  })
  addUsageRoutes(router, { usage: store.usage, consumers: store.consumers })
  addDailyUsageRoute(router, { usage: store.usage, consumers: store.consumers, tiers: () => holder.current.tiers, now: () => scheduler.epoch.now() })
  addConfigRoutes(router, { runtime: () => holder.current, reload })
  // ── dashboard (issue 17): its admin routes, sessions, request log and history rings ──
  const dashboard: Dashboard = createDashboard({
    router, logger, keys: () => holder.current.adminKeys, readOnlyKeys: () => holder.current.readOnlyKeys, sessionTtlMs: () => holder.current.sessionTtlMs,
    status: () => status.snapshot(holder.current, drain.draining), epoch: () => scheduler.epoch.now(), gauges: dashboardGauges(metrics, pacers, limits, () => scheduler.clock.now()), metrics, timers,
  })
  closers.add('dashboard', () => dashboard.close())
  // ── end dashboard ──
  router.add('GET', '/api/admin/openapi.json', { role: 'read', summary: 'This document' }, () => ({ status: 200, body: openApiDocument(router, version) }))
  const admin = createAdminHandler({ router, keys: () => holder.current.adminKeys, readOnlyKeys: () => holder.current.readOnlyKeys, logger, sessions: dashboard.sessions })

  const pipeline = createPipeline({
    metrics,
    logger,
    ledger: (record) => ledger.record(record),
    auth: { directory, epoch: () => scheduler.epoch.now() },
    admit: {
      limits: consumerLimits,
      clock: scheduler.clock,
      epoch: () => scheduler.epoch.now(),
      spentSince: (id, since) => store.usage.spentSince(id, since),
      // Memory: the in-process limiters alone, as fast as before shared state existed.
      shared: instances.consumerLimits,
    },
    isDraining: () => drain.draining,
    onFinished: (ctx) => {
      status.record(ctx)
      dashboard.record(ctx)
    },
    scheduler,
    pins: shared.kind === 'redis' ? new SharedPinTable(shared.pins, (err) => logger.warn({ err: (err as Error).message }, 'could not share or read a pin of a file, batch or response'), undefined, shared.health) : new PinTable(),
    shared,
  })
  const handler = createHandler({
    runtime: () => holder.current,
    acquireRuntime: () => holder.acquire(),
    releaseRuntime: (runtime) => holder.release(runtime),
    pipeline,
    checkCaller: callerCheck({ directory, epoch: () => scheduler.epoch.now() }), // /v1/models needs a key like the pipeline's routes
    status,
    metrics,
    isDraining: () => drain.draining,
    onIdle: () => drain.notifyIdle(),
    admin,
    dashboard: dashboard.handle,
  })

  const { server, port } = await listen(handler, {
    host: initial.server.host,
    port: opts.port ?? initial.server.port,
    keepAliveTimeoutMs: initial.server.keepAliveTimeoutMs,
    requestTimeoutMs: initial.server.requestTimeoutMs,
    onProtocolError: (code) => metrics.protocolErrors.series(code).inc(), // answered before the pipeline: counted here
  })
  closers.add('server', () => closeServer(server))
  const servers: Server[] = [server]
  let metricsPort: number | null = null
  if (initial.server.metricsPort !== null) {
    const m = await listen((_req, res) => void serveMetrics(metrics, res), {
      host: initial.server.host,
      port: initial.server.metricsPort,
      keepAliveTimeoutMs: 5_000,
      requestTimeoutMs: 10_000,
    })
    closers.add('metrics server', () => closeServer(m.server))
    servers.push(m.server)
    metricsPort = m.port
  }

  const watch = opts.watch ?? 'file' in opts.config
  const stopWatching = watch && 'file' in opts.config ? once(watchFile(opts.config.file, reload)) : () => undefined
  closers.add('config watcher', stopWatching)

  let closing: Promise<boolean> | null = null
  const shutdown = (): Promise<boolean> => {
    closing ??= (async () => {
      stopWatching() // no reload lands during the drain
      logger.info({ inFlight: status.inFlight, deadlineMs: holder.current.server.drainTimeoutMs }, 'draining')
      // At the deadline, requests still waiting for a key are answered 503 shutting_down (and
      // logged) before the connections are cut.
      const clean = await drain.run(servers, holder.current.server.drainTimeoutMs, () => scheduler.refuseWaiting(() => new SluiceError('shutting_down', [], { retryAfter: 1 })))
      setDrained(clean)
      await closers.closeAll((name, err) => logger.warn({ err: (err as Error).message, part: name }, 'could not close cleanly'))
      logger.info({ clean }, 'stopped')
      // Written out asynchronously first, so that the synchronous flush before exit has nothing
      // left to reorder behind a write still in the thread pool.
      await flushLogger(logger)
      flushLoggerSync(logger)
      return clean
    })()
    return closing
  }

  const host = initial.server.host.includes(':') ? `[${initial.server.host}]` : initial.server.host
  return {
    url: `http://${host}:${port}`,
    port,
    metricsPort,
    logger,
    metrics,
    store,
    shared,
    adminRoutes: router.routes,
    runtime: () => holder.current,
    reload,
    events,
    shutdown,
  }
}

interface Instances {
  readonly cluster: Cluster
  /** What the admin API tells when consumers and keys change: this instance's auth cache, and with Redis every instance's. */
  readonly consumerCache: ConsumerCache
  /** The consumer limits counted across instances; null in memory (the admit stage's in-process path). */
  readonly consumerLimits: SharedConsumerLimits | null
  /** Tells the other instances an admin changed this key's concurrency mode (stored already). */
  keyLimitChanged(id: string): void
  snapshot(): ClusterSnapshot & { readonly spend_owed_consumers: number }
}

/**
 * With `state: redis`: this instance joins the registry (heartbeats), relays admin changes to
 * consumers and keys to the others, batches settlements and keeps spend that could not reach
 * Redis; logs the degraded mode once each way. In memory nothing starts and every call stays in
 * this process.
 */
async function joinInstances(
  shared: SharedState,
  deps: {
    readonly directory: ConsumerDirectory
    readonly logger: Logger
    readonly timers: Timers
    readonly closers: Closers
    readonly where: string
    readonly permitKeys: () => Iterable<string>
    /** Applies another instance's change to a key's concurrency mode. */
    readonly keyLimitChanged: (id: string) => void
  },
): Promise<Instances> {
  const { directory, logger, closers } = deps
  // Budget spend that could not reach Redis is charged there once it answers again.
  const owedSpend = new SpendBacklog()
  const cluster = new Cluster(shared, {
    timers: deps.timers,
    ...(shared.kind === 'redis' ? { permitKeys: deps.permitKeys } : {}),
    onHeartbeat: () => {
      if (owedSpend.size > 0) void owedSpend.flush(shared.spend)
    },
    onDegraded: () => logger.warn({ state: deps.where }, 'shared state cannot be reached: each instance keeps to its share of every consumer limit until it answers'),
    onRecovered: (downForMs) => {
      logger.info({ downForMs }, 'shared state answers again: limits are counted across the instances again')
      // Changes published while this instance was away never reached it.
      directory.invalidate()
    },
    onError: (err) => logger.warn({ err: (err as Error).message }, 'could not record this instance in the registry'),
  })
  const snapshot = () => ({ ...cluster.snapshot(), spend_owed_consumers: owedSpend.size })
  if (shared.kind !== 'redis') return { cluster, consumerCache: directory, consumerLimits: null, snapshot, keyLimitChanged: () => undefined }

  // Finished requests' settlements (tokens, cost), sent to Redis together every 20 ms.
  const settlements = new SettlementBatch(shared.consumerRates, {
    timers: deps.timers,
    onError: (err, items) => {
      cluster.settlementsFailed()
      // A flush that timed out may have been applied: owing it could charge the spend twice. A
      // script error comes with only the settlements whose spend was refused.
      if (err instanceof StateUnavailableError ? err.reason === 'timeout' : !(err instanceof StateScriptError)) return
      for (const { consumerId, settlement } of items) if (settlement.budget !== null) owedSpend.owe(consumerId, settlement.budget.period, settlement.budget.pico)
    },
  })
  closers.add('settlements', () => settlements.flush())
  await cluster.start()
  closers.add('instance registry', () => cluster.stop())
  const relay = new InvalidationRelay(shared.invalidation, shared.instanceId, {
    apply: (event) => (event.kind === 'key-limit-changed' ? deps.keyLimitChanged(event.id) : directory.invalidate()),
    onError: (err, event) => logger.warn({ err: (err as Error).message, change: event.kind }, 'could not tell the other instances of a change; they see it when their auth cache expires'),
  })
  await relay.start()
  closers.add('invalidation relay', () => relay.stop())
  return {
    cluster,
    snapshot,
    keyLimitChanged: (id) => relay.publish({ kind: 'key-limit-changed', id }),
    consumerCache: {
      invalidate: (change) => {
        directory.invalidate()
        relay.publish(change)
      },
      consumerCreated: () => directory.consumerCreated(),
    },
    consumerLimits: {
      rates: shared.consumerRates,
      spend: shared.spend,
      health: shared.health,
      instances: () => cluster.liveInstances,
      failed: () => cluster.fellBack(),
      owe: (id, period, pico) => owedSpend.owe(id, period, pico),
      settle: (id, settlement) => settlements.add(id, settlement),
    },
  }
}

/**
 * The shared-state ports for `state:`. The config compiler already refuses Redis beside a
 * SQLite `database`; the check here covers a database given apart from the file (--database,
 * tests), which the compiler never saw.
 */
async function openState(settings: StateSettings, databaseUrl: string, logger: Logger): Promise<SharedState> {
  if (settings.kind === 'redis') {
    if (databaseUrl.startsWith('sqlite:')) {
      throw new ConfigError('state', [{ path: 'state', line: null, message: sqliteBesideRedis(databaseUrl) }])
    }
    logger.info({ state: settings.where, prefix: settings.keyPrefix }, 'state: limits, leases, breakers and pins are shared through Redis')
  }
  return openSharedState(settings)
}

function once(fn: () => void): () => void {
  let done = false
  return () => {
    if (done) return
    done = true
    fn()
  }
}

/** Stops a listener that may already be closed (a drain closes them first), cutting what is left. */
function closeServer(server: Server): Promise<void> {
  if (!server.listening) return Promise.resolve()
  return new Promise((resolve) => {
    server.close(() => resolve())
    server.closeAllConnections()
  })
}

function keyRecord(key: VirtualKeyRow, consumer: ConsumerRow): KeyRecord {
  return {
    keyId: key.id,
    prefix: key.prefix,
    consumerId: consumer.id,
    consumerName: consumer.name,
    tier: consumer.tier,
    overrides: consumer.overrides as ConsumerSettingsInput | null,
    consumerDisabled: consumer.disabled,
    revokedAt: key.revokedAt,
    expiresAt: key.expiresAt,
  }
}
