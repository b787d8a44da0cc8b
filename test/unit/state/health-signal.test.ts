import { describe, expect, it } from 'vitest'
import { checkEveryMs, checksToUp, failuresToDown, HealthSignal } from '../../../src/state/redis/health-signal.js'
import { FakeTime } from '../../support/fake-time.js'

// The shared-state health signal on a hand-moved clock, with the background check (a PING on
// the real connection) answered by the test: one slow call, or a burst of calls failing
// together, leaves it up; failures across separate round trips or a closed connection take it
// down; it comes back only after checks in a row answered, one check per period, never one per call.

const timeoutMs = 250
const flush = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await Promise.resolve()
}

function signal() {
  const time = new FakeTime()
  const pending: { resolve: () => void; reject: (e: Error) => void }[] = []
  const changes: boolean[] = []
  const health = new HealthSignal({
    clock: time,
    timers: time,
    timeoutMs,
    check: () => new Promise<void>((resolve, reject) => pending.push({ resolve, reject })),
    onChange: (up) => changes.push(up),
  })
  /** Answers the check in flight (true: Redis answered). */
  const answer = async (ok: boolean): Promise<void> => {
    const p = pending.shift()
    if (p === undefined) throw new Error('no check in flight')
    if (ok) p.resolve()
    else p.reject(new Error('Command timed out'))
    await flush()
  }
  health.connected()
  return { time, health, changes, pending, answer }
}

const timedOut = new Error('Command timed out')

describe('HealthSignal', () => {
  it('the first connection is up at once', () => {
    const { health, changes } = signal()
    expect(health.up).toBe(true)
    expect(changes).toEqual([true])
  })

  it('one timed-out call, or many timing out together (one stall), leaves it up', () => {
    const { time, health, changes } = signal()
    health.failed(timedOut)
    expect(health.up).toBe(true)
    for (let i = 0; i < 20; i++) health.failed(timedOut)
    expect(health.up).toBe(true)
    // An answer ends the run: failures after it start counting again.
    time.advance(timeoutMs)
    health.answered()
    health.failed(timedOut)
    health.failed(timedOut)
    expect(health.up).toBe(true)
    expect(changes).toEqual([true])
  })

  it(`down after ${failuresToDown} failures in a row spanning a state timeout (separate round trips)`, () => {
    const { time, health, changes, pending } = signal()
    for (let i = 0; i < failuresToDown - 1; i++) {
      health.failed(timedOut)
      time.advance(timeoutMs)
    }
    expect(health.up).toBe(true)
    health.failed(timedOut)
    expect(health.up).toBe(false)
    expect(changes).toEqual([true, false])
    // Nothing is checked at once: one check per period.
    expect(pending).toHaveLength(0)
    expect(time.pending).toBe(1)
  })

  it('a closed connection takes it down at once', () => {
    const { health, changes } = signal()
    health.lost(new Error('connection closed'))
    expect(health.up).toBe(false)
    expect(changes).toEqual([true, false])
  })

  it(`up again only after ${checksToUp} checks in a row answered, one per ${checkEveryMs} ms; calls answered meanwhile do not count`, async () => {
    const { time, health, changes, pending, answer } = signal()
    health.lost(new Error('connection closed'))
    // A call that happens to be answered while down (a background one) does not bring it back.
    health.answered()
    expect(health.up).toBe(false)
    time.advance(checkEveryMs - 1)
    expect(pending).toHaveLength(0)
    time.advance(1)
    expect(pending).toHaveLength(1)
    await answer(true)
    expect(health.up).toBe(false)
    // A check that fails starts the count again.
    time.advance(checkEveryMs)
    await answer(false)
    time.advance(checkEveryMs)
    await answer(true)
    expect(health.up).toBe(false)
    time.advance(checkEveryMs)
    await answer(true)
    expect(health.up).toBe(true)
    expect(changes).toEqual([true, false, true])
    // Up: no more checks.
    expect(time.pending).toBe(0)
    expect(health.checks).toBe(4)
  })

  it('a reconnect after an outage is checked at once, not believed', async () => {
    const { time, health, pending, answer } = signal()
    health.lost(new Error('connection closed'))
    health.connected()
    expect(health.up).toBe(false)
    expect(pending).toHaveLength(1)
    await answer(true)
    time.advance(checkEveryMs)
    await answer(true)
    expect(health.up).toBe(true)
  })

  it('close: down for good, no timer left', async () => {
    const { time, health, changes } = signal()
    health.lost(new Error('connection closed'))
    health.close()
    time.advance(10 * checkEveryMs)
    health.connected()
    expect(health.up).toBe(false)
    expect(time.pending).toBe(0)
    expect(changes).toEqual([true, false])
  })
})
