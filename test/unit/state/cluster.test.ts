import { describe, expect, it } from 'vitest'
import { Cluster } from '../../../src/state/cluster.js'
import { StateUnavailableError } from '../../../src/state/errors.js'
import type { StateHealth } from '../../../src/state/health.js'
import type { Invalidation } from '../../../src/state/invalidation.js'
import { InvalidationRelay } from '../../../src/state/invalidation-relay.js'
import { createMemoryState, MemoryBacking } from '../../../src/state/memory/index.js'
import type { SharedState } from '../../../src/state/shared-state.js'
import { FakeTime } from '../../support/fake-time.js'

// The cluster membership over the memory adapters (one backing, several "instances", a hand-moved
// clock): heartbeats give the live count, a health change is reported once each way, and the
// last count stands while shared state is down.

class Switch implements StateHealth {
  up = true
  #listeners: ((up: boolean) => void)[] = []
  onChange(fn: (up: boolean) => void): () => void {
    this.#listeners.push(fn)
    return () => (this.#listeners = this.#listeners.filter((l) => l !== fn))
  }
  set(up: boolean): void {
    this.up = up
    for (const l of this.#listeners) l(up)
  }
}

const flush = () => new Promise((r) => setImmediate(r))

describe('Cluster', () => {
  it('counts the live instances from heartbeats, drops a silent one after the TTL, and leaves at stop', async () => {
    const time = new FakeTime()
    let epoch = 1_000_000
    const backing = new MemoryBacking(() => epoch)
    const states = ['a', 'b', 'c'].map((id) => createMemoryState({ backing, instanceId: id }))
    const clusters = states.map((s) => new Cluster(s, { timers: time, epoch: () => epoch }))
    for (const c of clusters) await c.start()
    expect(clusters.map((c) => c.liveInstances)).toEqual([1, 2, 3])
    const step = async (ms: number) => {
      epoch += ms
      time.advance(ms)
      await flush()
    }
    await step(5_000)
    expect(clusters.map((c) => c.liveInstances)).toEqual([3, 3, 3])
    expect(clusters[0]!.snapshot()).toMatchObject({ kind: 'memory', instance: 'a', up: true, live_instances: 3, instances: [{ id: expect.any(String) }, {}, {}] })
    // c dies without a word: gone once its heartbeat is older than the TTL (15 s).
    await clusters[2]!.stop().then(() => backing.heartbeats.set('c', epoch))
    for (let i = 0; i < 4; i++) await step(5_000)
    expect(clusters.slice(0, 2).map((c) => c.liveInstances)).toEqual([2, 2])
    // b leaves cleanly: at once.
    await clusters[1]!.stop()
    await step(5_000)
    expect(clusters[0]!.liveInstances).toBe(1)
    await clusters[0]!.stop()
    expect(time.pending).toBe(0)
  })

  it('reports a health change once each way, keeps the last count while down, and heartbeats again on recovery', async () => {
    const time = new FakeTime()
    let epoch = 2_000_000
    const backing = new MemoryBacking(() => epoch)
    const health = new Switch()
    const base = createMemoryState({ backing, instanceId: 'a' })
    const other = createMemoryState({ backing, instanceId: 'b' })
    await other.instances.heartbeat('b', 15_000)
    let failing = false
    const shared: SharedState = {
      ...base,
      health,
      instances: {
        ...base.instances,
        heartbeat: (id, ttl) => (failing ? Promise.reject(new StateUnavailableError('timeout', 'down')) : base.instances.heartbeat(id, ttl)),
        live: (ttl) => base.instances.live(ttl),
        leave: (id) => base.instances.leave(id),
      },
    }
    const events: string[] = []
    const cluster = new Cluster(shared, { timers: time, epoch: () => epoch, onDegraded: () => events.push('down'), onRecovered: (ms) => events.push(`up after ${ms}`), onError: () => events.push('error') })
    await cluster.start()
    expect(cluster.liveInstances).toBe(2)
    failing = true
    // A heartbeat that timed out while health still holds (one slow call): no error line.
    epoch += 5_000
    time.advance(5_000)
    await flush()
    expect(events).toEqual([])
    health.set(false)
    health.set(false)
    epoch += 5_000
    time.advance(5_000)
    await flush()
    expect(cluster.up).toBe(false)
    expect(cluster.liveInstances).toBe(2)
    expect(cluster.snapshot().degraded_since).toBe(new Date(2_005_000).toISOString())
    epoch += 2_000
    failing = false
    health.set(true)
    expect(events).toEqual(['down', 'up after 7000'])
    expect(cluster.up).toBe(true)
    await cluster.stop()
  })
})

describe('Cluster: permits per key', () => {
  it('counts each key\'s leases by instance at every heartbeat (null when not asked)', async () => {
    const time = new FakeTime()
    const epoch = 3_000_000
    const backing = new MemoryBacking(() => epoch)
    const a = createMemoryState({ backing, instanceId: 'a' })
    const b = createMemoryState({ backing, instanceId: 'b' })
    await a.permits.acquire('sim~k1', 5)
    await b.permits.acquire('sim~k1', 5)
    await b.permits.acquire('sim~k1', 5)
    const counted = new Cluster(a, { timers: time, epoch: () => epoch, permitKeys: () => ['sim~k1', 'sim~k2'] })
    const plain = new Cluster(b, { timers: time, epoch: () => epoch })
    await counted.start()
    await plain.start()
    expect(counted.snapshot().permits).toEqual({ 'sim~k1': { in_use: 3, by_instance: { a: 1, b: 2 } }, 'sim~k2': { in_use: 0, by_instance: {} } })
    expect(plain.snapshot().permits).toBeNull()
    await counted.stop()
    await plain.stop()
  })
})

describe('InvalidationRelay', () => {
  it("applies the other instances' changes, not its own, and publishes without waiting", async () => {
    const backing = new MemoryBacking()
    const a = createMemoryState({ backing, instanceId: 'a' })
    const b = createMemoryState({ backing, instanceId: 'b' })
    const seenA: Invalidation[] = []
    const seenB: Invalidation[] = []
    const relayA = new InvalidationRelay(a.invalidation, 'a', { apply: (e) => void seenA.push(e) })
    const relayB = new InvalidationRelay(b.invalidation, 'b', { apply: (e) => void seenB.push(e) })
    await relayA.start()
    await relayB.start()
    relayA.publish({ kind: 'virtual-key-revoked', id: 'sk-sluice-AbCd' })
    await flush()
    expect(seenA).toEqual([])
    expect(seenB).toEqual([{ kind: 'virtual-key-revoked', id: 'sk-sluice-AbCd', from: 'a' }])
    await relayA.stop()
    await relayB.stop()
  })

  it('a publish that fails is reported, never thrown', async () => {
    const errors: string[] = []
    const relay = new InvalidationRelay({ publish: () => Promise.reject(new Error('Redis away')), subscribe: async () => async () => {} }, 'a', { apply: () => {}, onError: (err, e) => void errors.push(`${e.kind}: ${(err as Error).message}`) })
    relay.publish({ kind: 'consumer-disabled', id: 'con_1' })
    await flush()
    expect(errors).toEqual(['consumer-disabled: Redis away'])
  })
})
