import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { BreakerPolicy } from '../../../src/state/breakers.js'
import { leaderRenewMs, leaderTtlMs, type Leadership } from '../../../src/state/leader.js'
import type { SharedState } from '../../../src/state/shared-state.js'
import { backends, type StateCluster } from './backends.js'

const policy: BreakerPolicy = { openMs: 30_000, maxOpenMs: 300_000, jitterFactor: 1, successThreshold: 2 }

describe.each(backends)('leader election: $name', (backend) => {
  let cluster: StateCluster
  let a: SharedState
  let b: SharedState

  beforeEach(async () => {
    cluster = await backend.cluster()
    a = await cluster.instance('a')
    b = await cluster.instance('b')
  })
  afterEach(() => cluster.dispose())

  it('the first to campaign leads, in one round trip; others are told how long the lease has left', async () => {
    let won: Leadership | undefined
    expect(await cluster.roundTrips(a, async () => (won = await a.leaders.campaign('probe:nvidia', 'a', leaderTtlMs)))).toBe(backend.trips(1))
    expect(won).toEqual({ leader: true, epoch: 1, ttlMs: 15_000 })
    cluster.advance(4_000)
    expect(await b.leaders.campaign('probe:nvidia', 'b', leaderTtlMs)).toEqual({ leader: false, epoch: 1, ttlMs: 11_000 })
    expect(await b.leaders.current('probe:nvidia')).toEqual({ holder: 'a', epoch: 1, ttlMs: 11_000 })
    // Names are independent.
    expect(await b.leaders.campaign('probe:openai', 'b', leaderTtlMs)).toMatchObject({ leader: true, epoch: 1 })
  })

  it('a leader that renews keeps its epoch for as long as it renews', async () => {
    await a.leaders.campaign('p', 'a', leaderTtlMs)
    for (let i = 0; i < 10; i++) {
      cluster.advance(leaderRenewMs)
      expect(await a.leaders.campaign('p', 'a', leaderTtlMs)).toEqual({ leader: true, epoch: 1, ttlMs: 15_000 })
      expect((await b.leaders.campaign('p', 'b', leaderTtlMs)).leader).toBe(false)
    }
  })

  it('leadership moves within the TTL when the leader dies, with a new epoch that fences the old leader out', async () => {
    const old = await a.leaders.campaign('p', 'a', leaderTtlMs)
    await a.breakers.trip('nv-1', policy)
    cluster.advance(leaderTtlMs - 1)
    expect((await b.leaders.campaign('p', 'b', leaderTtlMs)).leader).toBe(false)
    cluster.advance(1)
    expect(await b.leaders.current('p')).toBeNull()
    const next = await b.leaders.campaign('p', 'b', leaderTtlMs)
    expect(next).toEqual({ leader: true, epoch: 2, ttlMs: 15_000 })
    // The old leader, back from a pause, learns it lost …
    expect(await a.leaders.campaign('p', 'a', leaderTtlMs)).toMatchObject({ leader: false, epoch: 2 })
    // … and a probe result it sends anyway is refused once the new leader has written.
    expect((await b.breakers.report('nv-1', 'failure', { probeEpoch: next.epoch }, policy)).applied).toBe(true)
    expect((await a.breakers.report('nv-1', 'success', { probeEpoch: old.epoch }, policy)).applied).toBe(false)
  })

  it('resigns at once, and only the holder can', async () => {
    await a.leaders.campaign('p', 'a', leaderTtlMs)
    expect(await b.leaders.resign('p', 'b')).toBe(false)
    expect(await a.leaders.resign('p', 'a')).toBe(true)
    expect(await a.leaders.resign('p', 'a')).toBe(false)
    expect(await b.leaders.campaign('p', 'b', leaderTtlMs)).toEqual({ leader: true, epoch: 2, ttlMs: 15_000 })
  })

  it('exactly one of many instances racing for a free name wins', async () => {
    const all = [a, b, await cluster.instance('c'), await cluster.instance('d')]
    const results = await Promise.all(all.flatMap((s) => [s.leaders.campaign('p', s.instanceId, leaderTtlMs), s.leaders.campaign('p', s.instanceId, leaderTtlMs)]))
    const winners = new Set(all.filter((_, i) => results[2 * i]!.leader || results[2 * i + 1]!.leader).map((s) => s.instanceId))
    expect(winners.size).toBe(1)
    expect(results.every((r) => r.epoch === 1)).toBe(true)
  })
})
