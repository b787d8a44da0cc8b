import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { SharedState } from '../../../src/state/shared-state.js'
import { backends, type StateCluster } from './backends.js'

// The shared GCRA schedule of an upstream key: instances together go at the key's pace (burst
// 1), a refusal charges nothing and says how long, and a pause set by one holds all.

describe.each(backends)('shared pacing: $name', (backend) => {
  let cluster: StateCluster
  let a: SharedState
  let b: SharedState

  beforeEach(async () => {
    cluster = await backend.cluster()
    a = await cluster.instance('a')
    b = await cluster.instance('b')
  })
  afterEach(() => cluster.dispose())

  it('spaces requests from every instance one interval apart, in one round trip each', async () => {
    expect(await cluster.roundTrips(a, async () => expect(await a.pacing.take('k', 1000, 0, 10)).toEqual({ granted: true, waitMs: 0 }))).toBe(backend.trips(1))
    expect(await b.pacing.take('k', 1000, 0, 10)).toEqual({ granted: false, waitMs: 1000 })
    cluster.advance(400)
    expect(await a.pacing.take('k', 1000, 0, 10)).toEqual({ granted: false, waitMs: 600 })
    cluster.advance(600)
    expect(await b.pacing.take('k', 1000, 0, 10)).toEqual({ granted: true, waitMs: 0 })
    // Another key has its own schedule; 0 means not limited.
    expect(await a.pacing.take('other', 0, 0, 10)).toEqual({ granted: true, waitMs: 0 })
    expect(await b.pacing.take('other', 0, 0, 10)).toEqual({ granted: true, waitMs: 0 })
  })

  it('charges tokens by cost, and a refusal charges neither dimension', async () => {
    expect((await a.pacing.take('t', 0, 10, 50)).granted).toBe(true) // 50 tokens × 10 ms
    expect(await b.pacing.take('t', 0, 10, 50)).toEqual({ granted: false, waitMs: 500 })
    cluster.advance(500)
    expect((await b.pacing.take('t', 100, 10, 5)).granted).toBe(true)
    cluster.advance(50)
    // The request TAT (100 ms) holds it now, the tokens' (50 ms) would not.
    expect(await a.pacing.take('t', 100, 10, 5)).toEqual({ granted: false, waitMs: 50 })
  })

  it('a refund gives the place back, never into the past', async () => {
    expect((await a.pacing.take('r', 1000, 0, 1)).granted).toBe(true)
    await a.pacing.refund('r', 1000, 0, 1)
    expect((await b.pacing.take('r', 1000, 0, 1)).granted).toBe(true)
    await b.pacing.refund('r', 5000, 0, 1)
    expect((await a.pacing.take('r', 1000, 0, 1)).granted).toBe(true)
  })

  it('a pause from one instance holds every instance, and is never shortened', async () => {
    await a.pacing.pause('p', 5000)
    await a.pacing.pause('p', 1000)
    expect(await b.pacing.take('p', 0, 0, 1)).toEqual({ granted: false, waitMs: 5000 })
    cluster.advance(5000)
    expect((await b.pacing.take('p', 0, 0, 1)).granted).toBe(true)
  })
})
