import type { ClusterSnapshot } from '../state/cluster.js'
import type { LiveInstance } from '../state/instances.js'
import type { LeaseCount } from '../state/permits.js'
import { ok } from './consumers.js'
import type { Router } from './router.js'

// The instances sharing state, as this one sees them: which are live (their heartbeats), whether
// shared state answers, and per upstream key the permits every instance holds on it. Read fresh
// from the registry on each call (an admin page, not a hot path); the snapshot of the last
// heartbeat answers when Redis cannot.

const base = '/api/admin'

export interface ClusterDeps {
  readonly snapshot: () => ClusterSnapshot
  /** The registry now; rejects while shared state is unreachable. */
  readonly live: () => Promise<readonly LiveInstance[]>
  /** Upstream keys' concurrency-limit ids, with the limit each enforces. */
  readonly keys: () => Iterable<{ readonly id: string; readonly provider: string; readonly key: string; readonly limit: number }>
  /** Leases held on a key by every instance; null when permits are counted in this process only. */
  readonly permitsInUse: ((keyId: string) => Promise<LeaseCount>) | null
}

export function addClusterRoutes(router: Router, deps: ClusterDeps): void {
  router.add('GET', `${base}/cluster`, { role: 'read', summary: 'The instances sharing state: which are live, whether Redis answers, and the permits each holds per key' }, async () => {
    const known = deps.snapshot()
    let instances = known.instances
    let fresh = false
    if (known.up) {
      try {
        instances = (await deps.live()).map((m) => ({ id: m.id, heartbeat_age_ms: m.ageMs }))
        fresh = true
      } catch {
        // The last heartbeat's view stands; `fresh: false` says so.
      }
    }
    const count = deps.permitsInUse
    const keys = await Promise.all(
      [...deps.keys()].map(async (k) => {
        const permits = count === null || !known.up ? null : await count(k.id).catch(() => null)
        return { id: k.id, provider: k.provider, key: k.key, limit: k.limit, permits_in_use: permits?.total ?? null, permits_by_instance: permits?.byInstance ?? null }
      }),
    )
    return ok({ ...known, instances, fresh, keys })
  })
}
