import { describe, expect, it } from 'vitest'
import { BreakerRegistry, type KeyBreaker } from '../../../../src/core/breaker/index.js'
import { defaultBreakerSettings } from '../../../../src/core/breaker/types.js'
import { StateUnavailableError } from '../../../../src/state/index.js'
import { createMemoryState, MemoryBacking } from '../../../../src/state/memory/index.js'
import { SharedBreakerMirror } from '../../../../src/stages/schedule/shared-breakers.js'
import type { ScheduledAttempt } from '../../../../src/stages/schedule/scheduled-attempt.js'
import { failingBreakers } from '../../../support/failing-breakers.js'
import { FakeTime } from '../../../support/fake-time.js'

// Two instances' breakers kept in step through one shared breaker store (memory here; the
// store's Redis adapter passes the same conformance suite): a key one instance takes out goes
// out on the other at the next sync, and of two instances whose breakers half-open together,
// one wins the trial.

const settings = { ...defaultBreakerSettings, openMs: 10_000, maxOpenMs: 10_000, jitter: 0 }
const flush = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await Promise.resolve()
}

function instance(time: FakeTime, backing: MemoryBacking, id: string) {
  const registry = new BreakerRegistry(() => 0.5)
  const breaker = registry.obtain('p', 'k', settings)
  const shared = createMemoryState({ backing, instanceId: id })
  const mirror = new SharedBreakerMirror({ breakers: shared.breakers, registry, instanceId: id, clock: time, timers: time, rand: () => 0.5 })
  return { registry, breaker, mirror }
}

const attemptOn = (breaker: KeyBreaker, trial: boolean) => ({ breaker, trial, sharedTrial: null }) as unknown as ScheduledAttempt

describe('SharedBreakerMirror', () => {
  it('a key out on one instance goes out on the other within a sync period; one instance wins the half-open trial', async () => {
    const time = new FakeTime()
    const backing = new MemoryBacking(() => time.now())
    const a = instance(time, backing, 'a')
    const b = instance(time, backing, 'b')
    a.breaker.failed(time.now(), 'connect', false) // a refused connection opens at once
    expect(a.breaker.state(time.now())).toBe('open')
    await flush()
    expect(b.breaker.state(time.now())).toBe('closed')
    await b.mirror.sync()
    expect(b.breaker.state(time.now())).toBe('open')

    time.advance(10_000)
    expect([a.breaker.state(time.now()), b.breaker.state(time.now())]).toEqual(['half-open', 'half-open'])
    const ta = attemptOn(a.breaker, a.breaker.dispatched(time.now()))
    const tb = attemptOn(b.breaker, b.breaker.dispatched(time.now()))
    const claims = await Promise.all([a.mirror.claim(ta), b.mirror.claim(tb)])
    expect(claims.filter((c) => c.won)).toHaveLength(1)
    const [winner, winnerAttempt] = claims[0]?.won ? [a, ta] : [b, tb]
    // The winner's trial succeeds twice (success_threshold 2): closed there, and in the shared breaker.
    winner.breaker.succeeded(time.now(), true)
    winner.mirror.settled(winnerAttempt, time.now(), true)
    await flush()
    const again = attemptOn(winner.breaker, winner.breaker.dispatched(time.now()))
    expect(await winner.mirror.claim(again)).toEqual({ won: true })
    winner.breaker.succeeded(time.now(), true)
    winner.mirror.settled(again, time.now(), true)
    await flush()
    expect(winner.breaker.state(time.now())).toBe('closed')
    // The other's trial now finds the key closed everywhere: its own to run.
    const loser = winner === a ? b : a
    loser.breaker.released(time.now(), true)
    expect(await loser.mirror.claim(attemptOn(loser.breaker, loser.breaker.dispatched(time.now())))).toEqual({ won: true })
    a.mirror.close()
    b.mirror.close()
  })

  it('a trial claim whose answer never came (Redis applied it, then the call timed out) is released at once, not held for the trial TTL', async () => {
    const time = new FakeTime()
    const backing = new MemoryBacking(() => time.now())
    const a = instance(time, backing, 'a')
    const store = createMemoryState({ backing, instanceId: 'a' }).breakers
    // Applied, then lost on the way back: what a Redis that answers after the state timeout does.
    const late = failingBreakers(store, {
      claimTrial: async (keyId, holder, ttlMs) => {
        await store.claimTrial(keyId, holder, ttlMs)
        throw new StateUnavailableError('timeout', 'Command timed out')
      },
    })
    a.mirror.close()
    const mirror = new SharedBreakerMirror({ breakers: late, registry: a.registry, instanceId: 'a', clock: time, timers: time, rand: () => 0.5 })
    a.breaker.failed(time.now(), 'connect', false)
    await flush()
    time.advance(10_000)
    const trial = attemptOn(a.breaker, a.breaker.dispatched(time.now()))
    // Redis away: this instance's own breaker decides the trial.
    expect(await mirror.claim(trial)).toEqual({ won: true })
    await flush()
    const view = await store.read(a.breaker.id)
    expect({ state: view.state, trialHeld: view.trialHeld }).toEqual({ state: 'half-open', trialHeld: false })
    // Another instance may take the trial now, not two minutes later.
    expect((await store.claimTrial(a.breaker.id, 'b/t1', 120_000)).applied).toBe(true)
    mirror.close()
  })

  it('a key whose shared trip failed is tripped again at the next sync, so the others and the probe leader see it out', async () => {
    const time = new FakeTime()
    const backing = new MemoryBacking(() => time.now())
    const registry = new BreakerRegistry(() => 0.5)
    const breaker = registry.obtain('p', 'k', settings)
    const store = createMemoryState({ backing, instanceId: 'a' }).breakers
    let refuse = true
    const flaky = failingBreakers(store, {
      trip: async (...args) => {
        if (refuse) throw new StateUnavailableError('timeout', 'Command timed out')
        return store.trip(...args)
      },
    })
    const mirror = new SharedBreakerMirror({ breakers: flaky, registry, instanceId: 'a', clock: time, timers: time, rand: () => 0.5 })
    breaker.failed(time.now(), 'connect', false)
    await flush()
    expect((await store.read(breaker.id)).state).toBe('closed')
    refuse = false
    await mirror.sync()
    await flush()
    expect((await store.read(breaker.id)).state).toBe('open')
    mirror.close()
  })

  it('while shared state is down the sync reads nothing (every read would only time out); once up it syncs again', async () => {
    const time = new FakeTime()
    const backing = new MemoryBacking(() => time.now())
    const registry = new BreakerRegistry(() => 0.5)
    registry.obtain('p', 'k', settings)
    const store = createMemoryState({ backing, instanceId: 'a' }).breakers
    let reads = 0
    const counting = failingBreakers(store, { read: (keyId) => (reads++, store.read(keyId)) })
    const health = { up: false, onChange: () => () => {} }
    const mirror = new SharedBreakerMirror({ breakers: counting, health, registry, instanceId: 'a', clock: time, timers: time, rand: () => 0.5 })
    await mirror.sync()
    expect(reads).toBe(0)
    health.up = true
    await mirror.sync()
    expect(reads).toBe(1)
    mirror.close()
  })
})
