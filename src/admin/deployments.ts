import type { Deployment, Runtime } from '../config/runtime.js'
import type { BreakerRegistry, KeyBreaker } from '../core/breaker/index.js'
import { SluiceError } from '../errors.js'
import type { ProbeResult, ProbeStats } from '../health/index.js'
import type { SharedState } from '../state/index.js'
import type { AdminRequest, AdminResponse, Router } from './router.js'

// Key health as operators see it and act on it. Ids only: a key's value never appears here.

const base = '/api/admin/deployments'

export interface DeploymentsDeps {
  readonly runtime: () => Runtime
  readonly breakers: BreakerRegistry
  /** Monotonic ms, the clock the breakers run on. */
  readonly clock: () => number
  /** Wall-clock epoch ms, for the instants shown. */
  readonly epoch: () => number
  /** One probe now; null when the key has no health check. */
  readonly probe: (breakerId: string) => Promise<ProbeResult | null>
  readonly probeStats: () => readonly ProbeStats[]
  /** Shared state, for the cluster view of a key (leases by instance, probe leader). */
  readonly shared?: SharedState | null
  /** A breaker changed by hand: waiting requests may be able to go. */
  readonly changed: (breaker: KeyBreaker) => void
}

export function addDeploymentRoutes(router: Router, deps: DeploymentsDeps): void {
  const find = (r: AdminRequest): KeyBreaker => {
    const id = r.params.id as string
    const byKey = deps.breakers.get(id)
    if (byKey) return byKey
    const d = deploymentsOf(deps.runtime()).get(id)
    if (!d) throw new SluiceError('deployment_not_found', [id])
    return d.breaker
  }

  router.add('GET', base, { role: 'read', summary: 'Every deployment with its key\'s health, permits and probes' }, () => {
    const now = deps.clock()
    const wall = deps.epoch()
    const at = (t: number | null): string | null => (t === null || !Number.isFinite(t) ? null : new Date(wall + (t - now)).toISOString())
    const probes = new Map(deps.probeStats().map((s) => [s.id, s]))
    const routes = routesOf(deps.runtime())
    const list = [...deploymentsOf(deps.runtime()).values()].map((d) => {
      const b = d.breaker
      const probe = probes.get(b.id)
      return {
        id: d.id,
        key_id: b.id,
        provider: d.provider.id,
        key: d.key.id,
        model: d.upstreamModel,
        routes: routes.get(d.id) ?? [],
        health: {
          state: b.state(now),
          consecutive_failures: b.consecutiveFailures,
          last_failure_kind: b.lastFailureKind,
          last_failure_at: at(b.lastFailureAt),
          reopens_at: b.openUntil > now ? at(b.openUntil) : null,
          disabled_reason: b.disabledReason,
          times_opened: b.opens,
          demoted_until: b.demoted(now) ? at(b.demotedUntil) : null,
        },
        in_flight: d.limit.inflight,
        concurrency_limit: d.limit.effective,
        pacer_state: d.pacer.state(now),
        probes: probe
          ? { sent: probe.sent, passed: probe.passed, failed: probe.failed, inconclusive: probe.inconclusive, last_status: probe.last?.status ?? null, next_at: at(probe.nextAt) }
          : null,
      }
    })
    return ok({ object: 'list', data: list })
  })

  router.add('POST', `${base}/{id+}/disable`, { role: 'admin', summary: 'Take the key out until enabled again' }, (r) => {
    const b = find(r)
    b.disable(deps.clock(), 'admin')
    deps.changed(b)
    return ok({ key_id: b.id, state: b.state(deps.clock()), message: 'disabled until enabled again; probes do not restore it' })
  })

  router.add('POST', `${base}/{id+}/enable`, { role: 'admin', summary: 'Put the key back at once' }, (r) => {
    const b = find(r)
    b.enable(deps.clock())
    deps.changed(b)
    return ok({ key_id: b.id, state: b.state(deps.clock()), message: 'enabled' })
  })

  router.add('POST', `${base}/{id+}/probe`, { role: 'admin', summary: 'Probe the key now' }, async (r) => {
    const b = find(r)
    const result = await deps.probe(b.id)
    if (result === null) throw new SluiceError('probe_not_configured', [b.id, b.provider])
    return ok({ key_id: b.id, ok: result.ok, status: result.status, failure: result.failure, state: b.state(deps.clock()) })
  })
}

/** Every deployment of the running config, by id, once even when several routes share it. */
function deploymentsOf(runtime: Runtime): Map<string, Deployment> {
  const all = new Map<string, Deployment>()
  for (const route of runtime.models.values()) for (const d of route.deployments) all.set(d.id, d)
  return all
}

function routesOf(runtime: Runtime): Map<string, string[]> {
  const byDeployment = new Map<string, string[]>()
  for (const [name, route] of runtime.models) {
    if (name !== route.name) continue // an alias
    for (const d of route.deployments) {
      const names = byDeployment.get(d.id)
      if (names) names.push(name)
      else byDeployment.set(d.id, [name])
    }
  }
  return byDeployment
}

function ok(body: unknown): AdminResponse {
  return { status: 200, body }
}
