import { instanceOfLease, leaseTtlMs, offerWins, sharedLimitTtlMs, type LeaseCount, type LeaseGrant, type LeaseRef, type PermitLeases, type SharedLimit } from '../permits.js'
import type { MemoryBacking } from './backing.js'

export class MemoryPermitLeases implements PermitLeases {
  #seq = 0

  constructor(
    readonly backing: MemoryBacking,
    readonly instanceId: string,
  ) {}

  async acquire(keyId: string, limit: number | SharedLimit, ttlMs = leaseTtlMs): Promise<LeaseGrant> {
    const now = this.backing.now()
    const offer: SharedLimit = typeof limit === 'number' ? { limit, accepted: null, generation: 0 } : limit
    const stored = this.backing.leaseLimits.get(keyId)
    const taken = typeof limit === 'number' || stored === undefined || stored.until <= now || offerWins(offer, stored)
    const shared: SharedLimit = taken ? offer : (stored as SharedLimit)
    this.backing.leaseLimits.set(keyId, { limit: shared.limit, accepted: shared.accepted, generation: shared.generation, until: now + sharedLimitTtlMs })
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
