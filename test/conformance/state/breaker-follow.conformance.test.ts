import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { BreakerRegistry } from '../../../src/core/breaker/index.js'
import { defaultBreakerSettings } from '../../../src/core/breaker/types.js'
import { ProbeLeadership } from '../../../src/health/probe-leadership.js'
import { StateUnavailableError, type BreakerPolicy } from '../../../src/state/index.js'
import { SharedBreakerMirror } from '../../../src/stages/schedule/shared-breakers.js'
import { failingBreakers } from '../../support/failing-breakers.js'
import { FakeTime } from '../../support/fake-time.js'
import { backends, type StateCluster } from './backends.js'

// A key out on an instance that does not lead probes must come back there, whatever order the
// shared breaker's changes reach it in: the leader may close it before this instance first
// reads it, and this instance's own trip may never have reached the shared breaker. On both
// adapters, two instances over one shared state.

const key = 'p~k'
const policy: BreakerPolicy = { openMs: 10_000, maxOpenMs: 10_000, jitterFactor: 1, successThreshold: 1 }
const settings = { ...defaultBreakerSettings, openMs: 10_000, maxOpenMs: 10_000, jitter: 0 }
const flush = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve))
}

for (const backend of backends) {
  describe(`following the probe leader (${backend.name})`, () => {
    let cluster: StateCluster
    beforeEach(async () => {
      cluster = await backend.cluster()
    })
    afterEach(async () => {
      await cluster.dispose()
    })

    it('a key seen out, then closed by the leader: restored here', async () => {
      const leader = await cluster.instance('leader')
      const follower = new ProbeLeadership({ shared: await cluster.instance('follower'), timers: new FakeTime() })
      await leader.breakers.trip(key, policy)
      expect(await follower.follow(key)).toBe('out')
      await leader.breakers.report(key, 'success', { probeEpoch: 1 }, policy)
      expect(await follower.follow(key)).toBe('restored')
    })

    it('a key the leader closed before this instance first looked: probed here, not left out for good', async () => {
      const leader = await cluster.instance('leader')
      const follower = new ProbeLeadership({ shared: await cluster.instance('follower'), timers: new FakeTime() })
      await leader.breakers.trip(key, policy)
      await leader.breakers.report(key, 'success', { probeEpoch: 1 }, policy)
      // No leader's verdict will ever come for it: only a probe of this instance's own can tell.
      expect(await follower.follow(key)).toBe('probe')
    })

    it("a key whose shared trip failed: probed here meanwhile, and tripped again at the next sync so the leader's verdicts reach it", async () => {
      const time = new FakeTime()
      const shared = await cluster.instance('follower')
      let refuse = true
      const breakers = failingBreakers(shared.breakers, {
        trip: async (...args) => {
          if (refuse) throw new StateUnavailableError('timeout', 'Command timed out')
          return shared.breakers.trip(...args)
        },
      })
      const registry = new BreakerRegistry(() => 0.5)
      const breaker = registry.obtain('p', 'k', settings)
      const mirror = new SharedBreakerMirror({ breakers, registry, instanceId: 'follower', clock: time, timers: time, rand: () => 0.5 })
      const follower = new ProbeLeadership({ shared, timers: time })
      try {
        breaker.failed(time.now(), 'connect', false)
        await flush()
        expect(breaker.state(time.now())).toBe('open')
        expect(await follower.follow(breaker.id)).toBe('probe')
        refuse = false
        await mirror.sync()
        await flush()
        expect(await follower.follow(breaker.id)).toBe('out')
      } finally {
        mirror.close()
      }
    })
  })
}
