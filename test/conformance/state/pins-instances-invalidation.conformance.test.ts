import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { instanceTtlMs } from '../../../src/state/instances.js'
import type { Invalidation } from '../../../src/state/invalidation.js'
import type { SharedState } from '../../../src/state/shared-state.js'
import { backends, type StateCluster } from './backends.js'

/** Resolves with the next `n` events a listener hears; fails after a bounded time instead of hanging. */
function collect(n: number): { listener: (e: Invalidation) => void; events: Promise<Invalidation[]> } {
  const seen: Invalidation[] = []
  let done: (v: Invalidation[]) => void = () => {}
  const events = new Promise<Invalidation[]>((resolve, reject) => {
    done = resolve
    const timer = setTimeout(() => reject(new Error(`heard ${seen.length} of ${n} events within 2 s: ${JSON.stringify(seen)}`)), 2_000)
    timer.unref()
  })
  return {
    listener: (e) => {
      seen.push(e)
      if (seen.length === n) done(seen)
    },
    events,
  }
}

describe.each(backends)('pins, instance registry and invalidation: $name', (backend) => {
  let cluster: StateCluster
  let a: SharedState
  let b: SharedState

  beforeEach(async () => {
    cluster = await backend.cluster()
    a = await cluster.instance('a')
    b = await cluster.instance('b')
  })
  afterEach(() => cluster.dispose())

  it('a pin made on one instance is read on another until its TTL, one round trip each', async () => {
    expect(await cluster.roundTrips(a, () => a.pins.pin('file-abc', 'oa-2', 3_600_000))).toBe(backend.trips(1))
    let key: string | null = null
    expect(await cluster.roundTrips(b, async () => (key = await b.pins.keyOf('file-abc')))).toBe(backend.trips(1))
    expect(key).toBe('oa-2')
    expect(await b.pins.keyOf('file-unknown')).toBeNull()
    cluster.advance(3_599_999)
    expect(await b.pins.keyOf('file-abc')).toBe('oa-2')
    cluster.advance(1)
    expect(await b.pins.keyOf('file-abc')).toBeNull()
  })

  it('a pin can be moved and removed; key ids with separators survive', async () => {
    await a.pins.pin('batch_1', 'nv|1', 60_000)
    expect(await b.pins.keyOf('batch_1')).toBe('nv|1')
    await b.pins.pin('batch_1', 'nv-2', 60_000)
    expect(await a.pins.keyOf('batch_1')).toBe('nv-2')
    await a.pins.unpin('batch_1')
    expect(await b.pins.keyOf('batch_1')).toBeNull()
  })

  it('lists live instances by heartbeat; a silent one drops out after the TTL, one that leaves at once', async () => {
    expect(await a.instances.heartbeat('a', instanceTtlMs)).toBe(1)
    cluster.advance(1_000)
    let live = 0
    expect(await cluster.roundTrips(b, async () => (live = await b.instances.heartbeat('b', instanceTtlMs)))).toBe(backend.trips(1))
    expect(live).toBe(2)
    cluster.advance(1_000)
    expect(await a.instances.live(instanceTtlMs)).toEqual([
      { id: 'b', ageMs: 1_000 },
      { id: 'a', ageMs: 2_000 },
    ])
    // a goes silent (crashed): gone 15 s after its last heartbeat.
    cluster.advance(12_999)
    expect((await b.instances.live(instanceTtlMs)).map((i) => i.id)).toEqual(['b', 'a'])
    cluster.advance(1)
    expect(await b.instances.heartbeat('b', instanceTtlMs)).toBe(1)
    await a.instances.heartbeat('a', instanceTtlMs)
    await a.instances.leave('a')
    expect((await b.instances.live(instanceTtlMs)).map((i) => i.id)).toEqual(['b'])
  })

  it('an invalidation published on one instance reaches every subscribed instance, the sender too', async () => {
    const atA = collect(2)
    const atB = collect(2)
    await a.invalidation.subscribe(atA.listener)
    await b.invalidation.subscribe(atB.listener)
    const revoke: Invalidation = { kind: 'virtual-key-revoked', id: 'sk-sluice-ab12', from: 'a' }
    const tier: Invalidation = { kind: 'tier-changed', id: 'basic', from: 'a' }
    expect(await cluster.roundTrips(a, () => a.invalidation.publish(revoke))).toBe(backend.trips(1))
    await a.invalidation.publish(tier)
    expect(await atB.events).toEqual([revoke, tier])
    expect(await atA.events).toEqual([revoke, tier])
  })

  it('an unsubscribed listener hears nothing more while the others still do', async () => {
    const gone: Invalidation[] = []
    const stays = collect(1)
    const unsubscribe = await b.invalidation.subscribe((e) => gone.push(e))
    await b.invalidation.subscribe(stays.listener)
    await unsubscribe()
    const change: Invalidation = { kind: 'consumer-changed', id: 'c-42', from: 'a' }
    await a.invalidation.publish(change)
    expect(await stays.events).toEqual([change])
    expect(gone).toEqual([])
  })
})
