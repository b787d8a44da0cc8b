import type { Runtime } from '../config/runtime.js'
import type { Outcome, RequestContext } from '../context.js'

interface UpstreamSeen {
  reachable: boolean
  lastSeenAt: number
  lastFailure: string | null
}

const unreachableFailures = new Set(['connect', 'connect_timeout'])

/** What /status and /health/ready report: request counters and each upstream as last seen. */
export class StatusTracker {
  readonly startedAt: number
  readonly #outcomes: Record<Outcome, number> = { success: 0, upstream_error: 0, timeout: 0, rejected: 0, client_abort: 0, internal_error: 0 }
  readonly #upstreams = new Map<string, UpstreamSeen>()
  inFlight = 0
  /** More to report (queues, pacers), merged into the snapshot. */
  extra: () => unknown = () => ({})
  /** What readiness reports as degraded: still answering, but something it depends on is out ("database"); null when nothing is. */
  degraded: () => string | null = () => null

  constructor(private readonly now: () => number = Date.now) {
    this.startedAt = now()
  }

  /** Called once per finished request. */
  record(ctx: RequestContext): void {
    this.#outcomes[ctx.outcome]++
    const provider = ctx.provider
    if (!provider || ctx.upstreamStartedAt === 0) return
    let seen = this.#upstreams.get(provider.id)
    if (!seen) this.#upstreams.set(provider.id, (seen = { reachable: true, lastSeenAt: 0, lastFailure: null }))
    seen.lastSeenAt = this.now()
    if (ctx.upstreamStatus > 0) {
      seen.reachable = true
      seen.lastFailure = ctx.upstreamFailure
    } else if (ctx.upstreamFailure !== null && unreachableFailures.has(ctx.upstreamFailure)) {
      seen.reachable = false
      seen.lastFailure = ctx.upstreamFailure
    }
  }

  /** Not ready only when upstreams have been tried and none was reachable the last time. */
  upstreamsReachable(runtime: Runtime): boolean {
    let tried = 0
    for (const id of runtime.providers.keys()) {
      const seen = this.#upstreams.get(id)
      if (!seen) continue
      tried++
      if (seen.reachable) return true
    }
    return tried === 0
  }

  snapshot(runtime: Runtime, draining: boolean): unknown {
    const upstreams: Record<string, unknown> = {}
    for (const id of runtime.providers.keys()) {
      const seen = this.#upstreams.get(id)
      upstreams[id] = seen
        ? { reachable: seen.reachable, last_seen_at: new Date(seen.lastSeenAt).toISOString(), last_failure: seen.lastFailure }
        : { reachable: null, last_seen_at: null, last_failure: null }
    }
    const total = Object.values(this.#outcomes).reduce((a, b) => a + b, 0)
    return {
      status: draining ? 'draining' : 'serving',
      uptime_seconds: Math.round((this.now() - this.startedAt) / 1000),
      config: { generation: runtime.generation, loaded_at: new Date(runtime.loadedAt).toISOString(), source: runtime.source },
      requests: { in_flight: this.inFlight, total, by_outcome: { ...this.#outcomes } },
      models: [...runtime.models.keys()],
      upstreams,
      ...(this.extra() as object),
    }
  }
}
