import { fixedLimitHoldMs, instanceOfLease, leaseTtlMs, sharedLimitTtlMs, type LeaseCount, type LeaseGrant, type LeaseRef, type PermitLeases, type SharedLimit } from '../permits.js'
import type { RedisConnection, ScriptCall } from './connection.js'
import type { RedisKeys } from './keys.js'

/** Permit leases on Redis: acquire and release are one round trip each, a renewal tick one pipeline. */
export class RedisPermitLeases implements PermitLeases {
  #seq = 0

  constructor(
    readonly conn: RedisConnection,
    readonly keys: RedisKeys,
    readonly instanceId: string,
  ) {}

  async acquire(keyId: string, limit: number | SharedLimit, ttlMs = leaseTtlMs): Promise<LeaseGrant> {
    const leaseId = `${this.instanceId}/${++this.#seq}`
    const keys = this.keys.upstream(keyId)
    const args =
      typeof limit === 'number'
        ? [leaseId, limit, ttlMs, 'fixed', sharedLimitTtlMs, -1, 0, fixedLimitHoldMs]
        : [leaseId, limit.limit, ttlMs, limit.reset === true ? 'reset' : 'offer', sharedLimitTtlMs, limit.accepted ?? -1, limit.generation, fixedLimitHoldMs]
    let reply: [number, number, number, number, number]
    try {
      reply = await this.conn.run<[number, number, number, number, number]>('acquire-lease', [keys.leases, keys.law], args)
    } catch (err) {
      // Timed out, perhaps after Redis took the lease: remove it by the id we made, or it would
      // hold a permit for a lease's whole TTL. Nothing waits for this.
      this.conn.command('ZREM', keys.leases, leaseId).catch(() => {})
      throw err
    }
    const [granted, inUse, applied, accepted, generation] = reply
    const judged = { inUse, limit: applied, accepted: accepted < 0 ? null : accepted, generation }
    return granted === 1 ? { granted: true, leaseId, ...judged } : { granted: false, leaseId: null, ...judged }
  }

  async release(keyId: string, leaseId: string): Promise<boolean> {
    return (await this.conn.command<number>('ZREM', this.keys.upstream(keyId).leases, leaseId)) === 1
  }

  async renew(refs: readonly LeaseRef[], ttlMs = leaseTtlMs): Promise<readonly boolean[]> {
    if (refs.length === 0) return []
    // One script call per key (a script touches one key's slot), all in one pipeline.
    const byKey = new Map<string, number[]>()
    refs.forEach((r, i) => {
      const list = byKey.get(r.keyId)
      if (list === undefined) byKey.set(r.keyId, [i])
      else list.push(i)
    })
    const calls: ScriptCall[] = []
    for (const [keyId, indexes] of byKey) {
      calls.push({ script: 'renew-leases', keys: [this.keys.upstream(keyId).leases], args: [ttlMs, ...indexes.map((i) => (refs[i] as LeaseRef).leaseId)] })
    }
    const replies = (await this.conn.pipeline(calls)) as number[][]
    const out = new Array<boolean>(refs.length)
    let k = 0
    for (const indexes of byKey.values()) {
      const reply = replies[k++] as number[]
      indexes.forEach((refIndex, j) => {
        out[refIndex] = reply[j] === 1
      })
    }
    return out
  }

  async inUse(keyId: string): Promise<LeaseCount> {
    const ids = await this.conn.run<string[]>('count-leases', [this.keys.upstream(keyId).leases], [])
    const byInstance: Record<string, number> = {}
    for (const id of ids) {
      const owner = instanceOfLease(id)
      byInstance[owner] = (byInstance[owner] ?? 0) + 1
    }
    return { total: ids.length, byInstance }
  }
}
