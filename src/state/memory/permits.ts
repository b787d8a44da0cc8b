import { fixedLimitHoldMs, instanceOfLease, leaseTtlMs, offerWins, sharedLimitTtlMs, type LeaseCount, type LeaseGrant, type LeaseRef, type PermitLeases, type SharedLimit } from '../permits.js'
import type { MemoryBacking } from './backing.js'

export class MemoryPermitLeases implements PermitLeases {
  #seq = 0

  constructor(
    readonly backing: MemoryBacking,
    readonly instanceId: string,
  ) {}

  async acquire(keyId: string, limit: number | SharedLimit, ttlMs = leaseTtlMs): Promise<LeaseGrant> {
    const now = this.backing.now()
    const found = this.backing.leaseLimits.get(keyId)
    const stored = found !== undefined && found.until > now ? found : undefined
    let shared: SharedLimit
    let fixedUntil = stored?.fixedUntil ?? 0
    if (typeof limit === 'number') {
      // The learned state behind a fixed limit is kept, for when the key is learned again.
      shared = { limit, accepted: stored?.accepted ?? null, generation: stored?.generation ?? 0 }
      fixedUntil = now + fixedLimitHoldMs
    } else if (stored === undefined) shared = limit
    else if (limit.reset === true) shared = { ...limit, generation: Math.max(limit.generation, stored.generation + 1) }
    else shared = fixedUntil <= now && offerWins(limit, stored) ? limit : stored
    this.backing.leaseLimits.set(keyId, { limit: shared.limit, accepted: shared.accepted, generation: shared.generation, fixedUntil, until: now + sharedLimitTtlMs })
    const judged = { limit: shared.limit, accepted: shared.accepted, generation: shared.generation }
    const leases = this.#live(keyId, now)
    if (leases.size >= shared.limit) return { granted: false, leaseId: null, inUse: leases.size, ...judged }
    const leaseId = `${this.instanceId}/${++this.#seq}`
    leases.set(leaseId, now + ttlMs)
    return { granted: true, leaseId, inUse: leases.size, ...judged }
  }

  async release(keyId: string, leaseId: string): Promise<boolean> {
    const leases = this.#live(keyId, this.backing.now())
    return leases.delete(leaseId)
  }

  async renew(refs: readonly LeaseRef[], ttlMs = leaseTtlMs): Promise<readonly boolean[]> {
    const now = this.backing.now()
    return refs.map((r) => {
      const leases = this.#live(r.keyId, now)
      if (!leases.has(r.leaseId)) return false
      leases.set(r.leaseId, now + ttlMs)
      return true
    })
  }

  async inUse(keyId: string): Promise<LeaseCount> {
    const leases = this.#live(keyId, this.backing.now())
    const byInstance: Record<string, number> = {}
    for (const id of leases.keys()) {
      const owner = instanceOfLease(id)
      byInstance[owner] = (byInstance[owner] ?? 0) + 1
    }
    return { total: leases.size, byInstance }
  }

  /** The key's leases with the expired ones dropped (expiry at `now` counts as expired, as ZREMRANGEBYSCORE −inf now does). */
  #live(keyId: string, now: number): Map<string, number> {
    let leases = this.backing.leases.get(keyId)
    if (leases === undefined) {
      leases = new Map()
      this.backing.leases.set(keyId, leases)
    }
    for (const [id, until] of leases) if (until <= now) leases.delete(id)
    return leases
  }
}
