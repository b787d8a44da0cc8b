import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Permit, PermitOutcome } from '../../../src/core/limit/permits.js'
import { LeaseKeeper } from '../../../src/state/lease-keeper.js'
import type { LeaseRef, PermitLeases } from '../../../src/state/permits.js'
import type { SharedState } from '../../../src/state/shared-state.js'
import { FakeTime } from '../../support/fake-time.js'
import { backends, type StateCluster } from './backends.js'

// LeaseKeeper puts the permit-lease port where the scheduler holds a PermitCounter's permits:
// core `Permit`s that end exactly once, renewed together by one timer per instance.

/** `permits` with every call of `method` it answers kept in `sent`, so a test can await a call the keeper does not. */
function recording(permits: PermitLeases, method: 'release' | 'renew', sent: Promise<unknown>[]): PermitLeases {
  return new Proxy(permits, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target)
      if (typeof value !== 'function') return value
      const bound = (value as (...args: unknown[]) => unknown).bind(target)
      if (prop !== method) return bound
      return (...args: unknown[]) => {
        const call = bound(...args) as Promise<unknown>
        sent.push(call)
        return call
      }
    },
  })
}

describe.each(backends)('lease keeper over permit leases: $name', (backend) => {
  let cluster: StateCluster
  let a: SharedState
  let b: SharedState
  const keepers: LeaseKeeper[] = []

  beforeEach(async () => {
    cluster = await backend.cluster()
    a = await cluster.instance('a')
    b = await cluster.instance('b')
  })
  afterEach(async () => {
    for (const k of keepers.splice(0)) k.stop()
    await cluster.dispose()
  })

  function keeper(state: SharedState, opts: { timers?: FakeTime; lost?: LeaseRef[]; releases?: Promise<unknown>[]; renewals?: Promise<unknown>[] } = {}): LeaseKeeper {
    let ports = state.permits
    if (opts.releases) ports = recording(ports, 'release', opts.releases)
    if (opts.renewals) ports = recording(ports, 'renew', opts.renewals)
    const k = new LeaseKeeper(ports, { timers: opts.timers ?? new FakeTime(), onLost: (ref) => opts.lost?.push(ref) })
    keepers.push(k)
    return k
  }

  it('hands out core Permits whose level counts every instance, and that end exactly once', async () => {
    const releases: Promise<unknown>[] = []
    const ka = keeper(a, { releases })
    const kb = keeper(b)
    const heard: [number, PermitOutcome, number][] = []
    const first = await ka.acquire('k', 2, (p, outcome, at) => heard.push([p.level, outcome, at]))
    const second = await kb.acquire('k', 2)
    expect([first.permit?.level, second.permit?.level]).toEqual([1, 2])
    expect(await ka.acquire('k', 2)).toEqual({ permit: null, inUse: 2, shared: expect.objectContaining({ limit: 2 }) })

    let released = false
    const trips = await cluster.roundTrips(a, async () => {
      released = first.permit!.release('success', 1234)
      // The removal is sent without waiting; let it land.
      await new Promise((resolve) => setImmediate(resolve))
    })
    expect(released).toBe(true)
    expect(trips).toBe(backend.trips(1))
    expect(first.permit!.release('dropped', 9999)).toBe(false)
    expect(heard).toEqual([[1, 'success', 1234]])
    expect(ka.held).toBe(0)
    // The removal the keeper sent without waiting: once it has landed, the slot is free for all.
    expect(releases).toHaveLength(1)
    expect(await releases[0]).toBe(true)
    expect((await b.permits.inUse('k')).total).toBe(1)
    expect((await kb.acquire('k', 2)).permit).not.toBeNull()
  })

  it('one timer renews every held lease in one round trip, so long streams keep their slots', async () => {
    const time = new FakeTime()
    const renewals: Promise<unknown>[] = []
    const ka = keeper(a, { timers: time, renewals })
    const held: Permit[] = []
    for (const key of ['k1', 'k1', 'k2', 'k3']) held.push((await ka.acquire(key, 5)).permit!)
    ka.start()
    expect(time.pending).toBe(1)
    for (let tick = 0; tick < 6; tick++) {
      cluster.advance(10_000)
      expect(await cluster.roundTrips(a, () => ka.renewAll())).toBe(backend.trips(1))
    }
    // A minute on, the leases are all still held.
    expect(await b.permits.inUse('k1')).toEqual({ total: 2, byInstance: { a: 2 } })
    // The timer renews by itself, re-armed once each renewal is done.
    time.advance(10_000)
    expect(renewals).toHaveLength(7)
    expect(time.pending).toBe(0)
    await renewals[6]
    // Re-armed in the renewal's `finally`, a turn after its answer.
    await new Promise((resolve) => setImmediate(resolve))
    expect(time.pending).toBe(1)
    held[0]!.release('success', 0)
    expect(ka.held).toBe(3)
  })

  it('a keeper that stops (a crashed instance) loses its leases after the TTL; renewing late reports them lost', async () => {
    const lost: LeaseRef[] = []
    const ka = keeper(a, { lost })
    const kb = keeper(b)
    const p1 = (await ka.acquire('k', 2)).permit!
    await ka.acquire('k', 2)
    expect((await kb.acquire('k', 2)).permit).toBeNull()
    cluster.advance(30_000)
    expect((await kb.acquire('k', 2)).permit).not.toBeNull()
    expect(await ka.renewAll()).toBe(0)
    expect(lost.map((r) => r.keyId)).toEqual(['k', 'k'])
    expect(ka.held).toBe(0)
    // Releasing a lost lease sends nothing: the slot is no longer ours to free.
    expect(await cluster.roundTrips(a, async () => p1.release('ignore', 0))).toBe(0)
  })
})
