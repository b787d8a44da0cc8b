import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { BreakerPolicy, BreakerView } from '../../../src/state/breakers.js'
import type { SharedState } from '../../../src/state/shared-state.js'
import { backends, type StateCluster } from './backends.js'

// No jitter (factor 1), so open periods are exact: 30 s, 60 s, 120 s … capped at 300 s.
const policy: BreakerPolicy = { openMs: 30_000, maxOpenMs: 300_000, jitterFactor: 1, successThreshold: 2 }

describe.each(backends)('shared breakers: $name', (backend) => {
  let cluster: StateCluster
  let a: SharedState
  let b: SharedState

  beforeEach(async () => {
    cluster = await backend.cluster()
    a = await cluster.instance('a')
    b = await cluster.instance('b')
  })
  afterEach(() => cluster.dispose())

  const brief = (v: BreakerView) => ({ state: v.state, waitMs: v.waitMs, applied: v.applied })

  it('starts closed; a trip opens it for every instance, once however many trip together, in one round trip', async () => {
    expect(await a.breakers.read('k')).toEqual({ state: 'closed', waitMs: 0, opens: 0, successes: 0, trialHeld: false, disabledReason: null, applied: false })
    let first: BreakerView | undefined
    expect(await cluster.roundTrips(a, async () => (first = await a.breakers.trip('k', policy)))).toBe(backend.trips(1))
    expect(first).toMatchObject({ state: 'open', waitMs: 30_000, opens: 1, applied: true })
    const together = await Promise.all([a, b, a, b].map((s) => s.breakers.trip('k', policy)))
    expect(together.map((v) => v.applied)).toEqual([false, false, false, false])
    expect(await b.breakers.read('k')).toMatchObject({ state: 'open', waitMs: 30_000, opens: 1 })
    cluster.advance(10_000)
    expect(brief(await b.breakers.read('k'))).toEqual({ state: 'open', waitMs: 20_000, applied: false })
  })

  it('turns half-open when the period ends, and exactly one of many instances wins the trial', async () => {
    await a.breakers.trip('k', policy)
    cluster.advance(29_999)
    expect((await b.breakers.claimTrial('k', 'b', 60_000)).applied).toBe(false)
    cluster.advance(1)
    expect(brief(await b.breakers.read('k'))).toEqual({ state: 'half-open', waitMs: 0, applied: false })
    const c = await cluster.instance('c')
    const claims = await Promise.all([a, b, c, a, b, c].map((s, i) => s.breakers.claimTrial('k', `${s.instanceId}#${i}`, 60_000)))
    expect(claims.filter((v) => v.applied)).toHaveLength(1)
    expect(await a.breakers.read('k')).toMatchObject({ state: 'half-open', waitMs: null, trialHeld: true })
  })

  it('closes after successThreshold trial successes; only the holder settles its trial', async () => {
    await a.breakers.trip('k', policy)
    cluster.advance(30_000)
    expect((await a.breakers.claimTrial('k', 'a#1', 60_000)).applied).toBe(true)
    expect((await b.breakers.report('k', 'success', { trialHolder: 'b#1' }, policy)).applied).toBe(false)
    expect(await a.breakers.report('k', 'success', { trialHolder: 'a#1' }, policy)).toMatchObject({ state: 'half-open', successes: 1, trialHeld: false, applied: true })
    // Settled once: a second report of the same trial changes nothing.
    expect((await a.breakers.report('k', 'success', { trialHolder: 'a#1' }, policy)).applied).toBe(false)
    expect((await b.breakers.claimTrial('k', 'b#2', 60_000)).applied).toBe(true)
    expect(await b.breakers.report('k', 'success', { trialHolder: 'b#2' }, policy)).toMatchObject({ state: 'closed', waitMs: 0, opens: 0, successes: 0, applied: true })
  })

  it('a failed trial reopens it for twice as long, up to the cap; a released trial counts nothing', async () => {
    await a.breakers.trip('k', policy)
    let openFor = 30_000
    for (const expected of [60_000, 120_000, 240_000, 300_000, 300_000]) {
      cluster.advance(openFor)
      await a.breakers.claimTrial('k', 't', 60_000)
      const v = await a.breakers.report('k', 'failure', { trialHolder: 't' }, policy)
      expect(v).toMatchObject({ state: 'open', waitMs: expected })
      openFor = expected
    }
    cluster.advance(openFor)
    await a.breakers.claimTrial('k', 'r', 60_000)
    expect(await a.breakers.report('k', 'released', { trialHolder: 'r' }, policy)).toMatchObject({ state: 'half-open', successes: 0, trialHeld: false, applied: true })
  })

  it('frees a trial whose holder died once its ttl has passed', async () => {
    await a.breakers.trip('k', policy)
    cluster.advance(30_000)
    expect((await a.breakers.claimTrial('k', 'a#dead', 20_000)).applied).toBe(true)
    cluster.advance(19_999)
    expect((await b.breakers.claimTrial('k', 'b#1', 20_000)).applied).toBe(false)
    cluster.advance(1)
    expect((await b.breakers.claimTrial('k', 'b#1', 20_000)).applied).toBe(true)
    // The dead holder's late report is not the trial's any more.
    expect((await a.breakers.report('k', 'failure', { trialHolder: 'a#dead' }, policy)).applied).toBe(false)
  })

  it('counts probe passes from open, and refuses a stale probe leader (an older fencing epoch)', async () => {
    await a.breakers.trip('k', policy)
    expect(await a.breakers.report('k', 'success', { probeEpoch: 1 }, policy)).toMatchObject({ state: 'open', successes: 1, applied: true })
    // A new leader (epoch 2) writes; the old one (epoch 1) is refused from then on.
    expect(await b.breakers.report('k', 'failure', { probeEpoch: 2 }, policy)).toMatchObject({ state: 'open', successes: 0, applied: true })
    expect(await a.breakers.report('k', 'success', { probeEpoch: 1 }, policy)).toMatchObject({ successes: 0, applied: false })
    await b.breakers.report('k', 'success', { probeEpoch: 2 }, policy)
    expect(await b.breakers.report('k', 'success', { probeEpoch: 2 }, policy)).toMatchObject({ state: 'closed', applied: true })
    // Closed: a probe has nothing to say.
    expect((await b.breakers.report('k', 'success', { probeEpoch: 2 }, policy)).applied).toBe(false)
  })

  it('disables at once: admin until enabled, auth until probes pass or its half-open time comes; admin wins over auth', async () => {
    expect(await a.breakers.command('k', { kind: 'disable', reason: 'auth', halfOpenAfterMs: 300_000 })).toMatchObject({ state: 'disabled', disabledReason: 'auth', waitMs: 300_000, applied: true })
    cluster.advance(100_000)
    // A second 401 does not restart the period.
    expect(await b.breakers.command('k', { kind: 'disable', reason: 'auth', halfOpenAfterMs: 300_000 })).toMatchObject({ waitMs: 200_000, applied: false })
    cluster.advance(200_000)
    expect(await b.breakers.read('k')).toMatchObject({ state: 'half-open', disabledReason: null })

    expect(await a.breakers.command('k2', { kind: 'disable', reason: 'admin', halfOpenAfterMs: null })).toMatchObject({ state: 'disabled', disabledReason: 'admin', waitMs: null })
    expect((await a.breakers.command('k2', { kind: 'disable', reason: 'auth', halfOpenAfterMs: 1 })).applied).toBe(false)
    expect((await a.breakers.report('k2', 'success', { probeEpoch: 1 }, policy)).applied).toBe(false)
    cluster.advance(10_000_000)
    expect((await b.breakers.read('k2')).state).toBe('disabled')
    expect(await b.breakers.command('k2', { kind: 'enable' })).toMatchObject({ state: 'closed', waitMs: 0, applied: true })

    await a.breakers.command('k3', { kind: 'disable', reason: 'auth', halfOpenAfterMs: null })
    await a.breakers.report('k3', 'success', { probeEpoch: 1 }, policy)
    expect(await a.breakers.report('k3', 'success', { probeEpoch: 1 }, policy)).toMatchObject({ state: 'closed', disabledReason: null })
  })
})
