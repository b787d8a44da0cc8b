import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { fixedLimitHoldMs, leaseTtlMs, type LeaseGrant } from '../../../src/state/permits.js'
import type { SharedState } from '../../../src/state/shared-state.js'
import { backends, type StateCluster } from './backends.js'

describe.each(backends)('permit leases: $name', (backend) => {
  let cluster: StateCluster
  let a: SharedState
  let b: SharedState

  beforeEach(async () => {
    cluster = await backend.cluster()
    a = await cluster.instance('a')
    b = await cluster.instance('b')
  })
  afterEach(() => cluster.dispose())

  it('grants up to the limit and refuses beyond it, one round trip each', async () => {
    const grants: LeaseGrant[] = []
    for (let i = 0; i < 3; i++) {
      expect(await cluster.roundTrips(a, async () => grants.push(await a.permits.acquire('nv-1', 3)))).toBe(backend.trips(1))
    }
    expect(grants.map((g) => g.granted)).toEqual([true, true, true])
    expect(grants.map((g) => g.inUse)).toEqual([1, 2, 3])
    expect(new Set(grants.map((g) => g.leaseId)).size).toBe(3)
    const refused = await a.permits.acquire('nv-1', 3)
    expect(refused).toEqual({ granted: false, leaseId: null, inUse: 3, limit: 3, accepted: null, generation: 0 })
    // Another key has its own count.
    expect((await a.permits.acquire('nv-2', 1)).granted).toBe(true)
  })

  it('counts every instance against one limit, and says who holds what', async () => {
    expect((await a.permits.acquire('k', 3)).granted).toBe(true)
    expect((await a.permits.acquire('k', 3)).granted).toBe(true)
    expect(await b.permits.acquire('k', 3)).toMatchObject({ granted: true, inUse: 3 })
    expect(await b.permits.acquire('k', 3)).toMatchObject({ granted: false, inUse: 3 })
    expect(await b.permits.inUse('k')).toEqual({ total: 3, byInstance: { a: 2, b: 1 } })
  })

  it('never grants more than the limit when instances race for it', async () => {
    const c = await cluster.instance('c')
    const all = await Promise.all(Array.from({ length: 30 }, (_, i) => [a, b, c][i % 3]!.permits.acquire('race', 5)))
    expect(all.filter((g) => g.granted)).toHaveLength(5)
    expect((await c.permits.inUse('race')).total).toBe(5)
  })

  it('releases exactly once, in one round trip, freeing the slot for any instance', async () => {
    const g = await a.permits.acquire('k', 1)
    expect((await b.permits.acquire('k', 1)).granted).toBe(false)
    let first: boolean | undefined
    expect(await cluster.roundTrips(a, async () => (first = await a.permits.release('k', g.leaseId!)))).toBe(backend.trips(1))
    expect(first).toBe(true)
    expect(await a.permits.release('k', g.leaseId!)).toBe(false)
    expect((await b.permits.acquire('k', 1)).granted).toBe(true)
    expect(await a.permits.release('k', 'a/never-granted')).toBe(false)
  })

  it('lets a lease expire 30 s after it was taken when nobody renews it (a crashed instance)', async () => {
    for (let i = 0; i < 3; i++) await a.permits.acquire('k', 3)
    expect((await b.permits.acquire('k', 3)).granted).toBe(false)
    cluster.advance(leaseTtlMs - 1)
    expect((await b.permits.acquire('k', 3)).granted).toBe(false)
    cluster.advance(1)
    // Acquire itself drops the expired leases (nothing else has looked since they expired).
    expect(await b.permits.acquire('k', 3)).toMatchObject({ granted: true, inUse: 1 })
    expect(await b.permits.inUse('k')).toEqual({ total: 1, byInstance: { b: 1 } })
  })

  it('renews many leases over several keys in one round trip; a lease not renewed expires, a lost one says so', async () => {
    const k1 = [await a.permits.acquire('k1', 5), await a.permits.acquire('k1', 5)]
    const k2 = await a.permits.acquire('k2', 5)
    const forgotten = await a.permits.acquire('k2', 5)
    const released = await a.permits.acquire('k3', 5)
    await a.permits.release('k3', released.leaseId!)
    cluster.advance(20_000)
    const refs = [
      { keyId: 'k1', leaseId: k1[0]!.leaseId! },
      { keyId: 'k2', leaseId: k2.leaseId! },
      { keyId: 'k1', leaseId: k1[1]!.leaseId! },
      { keyId: 'k3', leaseId: released.leaseId! },
    ]
    let renewed: readonly boolean[] = []
    expect(await cluster.roundTrips(a, async () => (renewed = await a.permits.renew(refs)))).toBe(backend.trips(1))
    expect(renewed).toEqual([true, true, true, false])
    cluster.advance(15_000) // 35 s after taking, 15 s after renewing
    expect(await b.permits.inUse('k1')).toEqual({ total: 2, byInstance: { a: 2 } })
    expect(await b.permits.inUse('k2')).toEqual({ total: 1, byInstance: { a: 1 } })
    expect(await a.permits.renew([{ keyId: 'k2', leaseId: forgotten.leaseId! }])).toEqual([false])
    expect(await a.permits.release('k2', forgotten.leaseId!)).toBe(false)
    expect(await a.permits.renew([])).toEqual([])
  })

  it('one limit per key: a fixed limit is everyone\'s at once; a learned one is offered, and judged by its generation', async () => {
    const learned = (limit: number, accepted: number | null, generation: number) => ({ limit, accepted, generation })
    // Nothing shared yet: the first offer becomes the key's limit.
    expect(await a.permits.acquire('one', learned(4, null, 0))).toMatchObject({ granted: true, inUse: 1, limit: 4, accepted: null, generation: 0 })
    // The same generation and lower (b has not grown as far): a's limit holds for b too.
    expect(await b.permits.acquire('one', learned(2, null, 0))).toMatchObject({ granted: true, inUse: 2, limit: 4, accepted: null, generation: 0 })
    // A cut is a later generation: it wins though it is lower, and judges this very call.
    expect(await b.permits.acquire('one', learned(2, 2, 1))).toMatchObject({ granted: false, inUse: 2, limit: 2, accepted: 2, generation: 1 })
    // Growth a stale law offers from before the cut loses to it.
    expect(await a.permits.acquire('one', learned(5, null, 0))).toMatchObject({ granted: false, limit: 2, accepted: 2, generation: 1 })
    // Growth after the cut wins (a higher limit); a probe (a higher Ĉ) is a later generation.
    expect(await a.permits.acquire('one', learned(3, 2, 1))).toMatchObject({ granted: true, inUse: 3, limit: 3, accepted: 2, generation: 1 })
    expect(await b.permits.acquire('one', learned(3, 4, 2))).toMatchObject({ granted: false, inUse: 3, limit: 3, accepted: 4, generation: 2 })
  })

  it('two cuts in one burst, at one generation: the shallower one stays (a request refused out of the upstream\'s order cuts too deep)', async () => {
    const learned = (limit: number, accepted: number | null, generation: number) => ({ limit, accepted, generation })
    await a.permits.acquire('burst', learned(8, null, 0))
    expect(await a.permits.acquire('burst', learned(6, 6, 1))).toMatchObject({ limit: 6, accepted: 6, generation: 1 })
    expect(await b.permits.acquire('burst', learned(3, 3, 1))).toMatchObject({ limit: 6, accepted: 6, generation: 1 })
    // The same limit: the higher Ĉ.
    expect(await b.permits.acquire('burst', learned(6, 7, 1))).toMatchObject({ limit: 6, accepted: 7, generation: 1 })
  })

  it('a fixed limit holds the key for every instance, and learning takes over once nobody has enforced it for a while', async () => {
    const learned = (limit: number, accepted: number | null, generation: number) => ({ limit, accepted, generation })
    await a.permits.acquire('fixed', learned(10, 10, 3))
    // An admin fixed the key at 2 on b: a's learned 10, at any generation, is judged by 2.
    expect(await b.permits.acquire('fixed', 2)).toMatchObject({ granted: true, limit: 2, accepted: 10, generation: 3 })
    expect(await a.permits.acquire('fixed', learned(10, 10, 4))).toMatchObject({ granted: false, inUse: 2, limit: 2 })
    cluster.advance(fixedLimitHoldMs + 1)
    expect(await a.permits.acquire('fixed', learned(10, 10, 4))).toMatchObject({ granted: true, limit: 10, generation: 4 })
  })

  it('a reset is taken whatever is shared, at the generation after it', async () => {
    await a.permits.acquire('reset', { limit: 6, accepted: 6, generation: 5 })
    expect(await b.permits.acquire('reset', { limit: 8, accepted: null, generation: 1, reset: true })).toMatchObject({ limit: 8, accepted: null, generation: 6 })
    expect(await a.permits.acquire('reset', { limit: 6, accepted: 6, generation: 5 })).toMatchObject({ limit: 8, accepted: null, generation: 6 })
  })

  it('a lowered limit refuses until enough leases end', async () => {
    const held = [await a.permits.acquire('k', 3), await a.permits.acquire('k', 3), await a.permits.acquire('k', 3)]
    expect(await b.permits.acquire('k', 2)).toMatchObject({ granted: false, inUse: 3 })
    await a.permits.release('k', held[0]!.leaseId!)
    expect((await b.permits.acquire('k', 2)).granted).toBe(false)
    await a.permits.release('k', held[1]!.leaseId!)
    expect(await b.permits.acquire('k', 2)).toMatchObject({ granted: true, inUse: 2 })
  })
})
