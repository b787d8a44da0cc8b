import { describe, expect, it } from 'vitest'
import { defaultBreakerSettings, KeyBreaker, type BreakerSettings, type BreakerState } from '../../../../src/core/breaker/index.js'

const sec = 1_000

/**
 * The mechanics are tested with small round numbers (3 in a row, 50 % of ≥ 5 in 60 s) and no
 * jitter, so open periods are exact; the defaults have their own tests below.
 */
function settings(over: Partial<BreakerSettings> = {}): BreakerSettings {
  return { ...defaultBreakerSettings, failureThreshold: 3, failureRate: 0.5, minRequests: 5, windowMs: 60_000, jitter: 0, ...over }
}

/** A breaker, its transitions as seen by onChange (the state read at the instant of the call), and a clock. */
function make(over: Partial<BreakerSettings> = {}, rand: () => number = () => 0.5) {
  const clock = { t: 0 }
  const b = new KeyBreaker('sim~k1', 'sim', 'k1', settings(over), rand)
  const events: BreakerState[] = []
  b.onChange = (x) => {
    expect(x).toBe(b)
    events.push(x.state(clock.t))
  }
  return { b, events, clock }
}

/** Opens a closed breaker at `t` with failureThreshold consecutive failures. */
function trip(b: KeyBreaker, t: number, n = 3): void {
  for (let i = 0; i < n; i++) b.failed(t, 'http_5xx', false)
}

describe('KeyBreaker: closed', () => {
  it('starts closed and lets everything through without trials', () => {
    const { b, events } = make()
    expect(b.state(0)).toBe('closed')
    expect(b.wait(0)).toBe(0)
    expect(b.dispatched(0)).toBe(false)
    expect(b.wantsProbe(0)).toBe(false)
    expect(b.openUntil).toBe(-Infinity)
    expect([b.consecutiveFailures, b.opens, b.successes, b.trialOut, b.disabledReason, b.lastFailureKind, b.lastFailureAt]).toEqual([0, 0, 0, false, null, null, null])
    expect(events).toEqual([])
  })

  it('opens after 3 consecutive failures', () => {
    const { b, events } = make()
    b.failed(0, 'http_5xx', false)
    b.failed(1, 'reset', false)
    expect(b.state(2)).toBe('closed')
    b.failed(2, 'timeout', false)
    expect(b.state(2)).toBe('open')
    expect(events).toEqual(['open'])
    expect(b.consecutiveFailures).toBe(3)
    expect(b.lastFailureKind).toBe('timeout')
    expect(b.lastFailureAt).toBe(2)
    expect(b.opens).toBe(1)
    expect(b.openUntil).toBe(2 + 30 * sec)
    expect(b.wait(2)).toBe(30 * sec)
  })

  it('a success resets the consecutive count', () => {
    const { b } = make({ minRequests: 100 }) // keep the rate rule out of it
    trip(b, 0, 2)
    b.succeeded(1, false)
    expect(b.consecutiveFailures).toBe(0)
    trip(b, 2, 2)
    expect(b.state(2)).toBe('closed')
    b.failed(3, 'connect', false)
    expect(b.state(3)).toBe('open')
  })

  it("'auth' passed to failed() is an ordinary failure (callers disable() for 401/403)", () => {
    const { b } = make()
    b.failed(0, 'auth', false)
    expect(b.state(0)).toBe('closed')
    expect(b.disabledReason).toBeNull()
    expect(b.lastFailureKind).toBe('auth')
  })

  it('2 failures and 2 successes do not open it: fewer than minRequests outcomes', () => {
    const { b } = make()
    b.failed(0, 'http_5xx', false)
    b.succeeded(1, false)
    b.failed(2, 'http_5xx', false)
    b.succeeded(3, false)
    expect(b.state(3)).toBe('closed')
  })

  it('3 failures of 5 outcomes open it, though never 3 in a row', () => {
    const { b, events } = make()
    const seq = 'FSFSF'
    ;[...seq].forEach((c, i) => (c === 'F' ? b.failed(i * sec, 'http_5xx', false) : b.succeeded(i * sec, false)))
    expect(b.state(5 * sec)).toBe('open')
    expect(b.consecutiveFailures).toBe(1)
    expect(events).toEqual(['open'])
  })

  it('2 of 5 does not; exactly 50 % (3 of 6) does', () => {
    const { b } = make()
    ;[...'FSSFS'].forEach((c, i) => (c === 'F' ? b.failed(i, 'http_5xx', false) : b.succeeded(i, false)))
    expect(b.state(5)).toBe('closed')
    b.failed(6, 'http_5xx', false)
    expect(b.state(6)).toBe('open')
  })

  it('the rate is checked after every outcome: a success that brings the window to minRequests can open it', () => {
    const { b } = make()
    ;[...'FFSF'].forEach((c, i) => (c === 'F' ? b.failed(i, 'http_5xx', false) : b.succeeded(i, false)))
    expect(b.state(4)).toBe('closed')
    b.succeeded(5, false) // 3 of 5 failed
    expect(b.state(5)).toBe('open')
  })

  it('honours configured rate and minimum', () => {
    const { b } = make({ failureRate: 0.25, minRequests: 8, failureThreshold: 100 })
    for (let i = 0; i < 6; i++) b.succeeded(i, false)
    b.failed(6, 'http_5xx', false)
    expect(b.state(6)).toBe('closed') // 7 outcomes
    b.failed(7, 'http_5xx', false)
    expect(b.state(7)).toBe('open') // 2 of 8 = 25 %
  })

  it('outcomes leave the window: nothing older than windowMs counts', () => {
    const { b } = make()
    ;[...'FSFS'].forEach((c, i) => (c === 'F' ? b.failed(i * sec, 'http_5xx', false) : b.succeeded(i * sec, false)))
    b.failed(61 * sec, 'http_5xx', false) // the first four are gone: 1 outcome
    expect(b.state(61 * sec)).toBe('closed')
    b.succeeded(62 * sec, false)
    expect(b.state(62 * sec)).toBe('closed')
  })

  it('outcomes within the window count', () => {
    const { b } = make()
    ;[...'FSFS'].forEach((c, i) => (c === 'F' ? b.failed(i * sec, 'http_5xx', false) : b.succeeded(i * sec, false)))
    b.failed(50 * sec, 'http_5xx', false)
    expect(b.state(50 * sec)).toBe('open')
  })

  it('an outcome counts until it is windowMs old, or up to one bucket (windowMs / 12) less', () => {
    const cases = [
      { first: 0, at: 59_999, open: true }, // 59.999 s old: still in
      { first: 0, at: 60_000, open: false }, // windowMs old: out
      { first: 4_999, at: 59_999, open: true },
      { first: 4_999, at: 60_000, open: false }, // 55.001 s old, but its bucket left
    ]
    for (const { first, at, open } of cases) {
      const { b } = make({ minRequests: 3, failureThreshold: 100 })
      b.failed(first, 'http_5xx', false)
      b.succeeded(first, false)
      b.failed(at, 'http_5xx', false) // 2 of 3, or 1 of 1 once the first two left
      expect(b.state(at), `first ${first}, at ${at}`).toBe(open ? 'open' : 'closed')
    }
  })

  it('works with any monotonic origin, negative times included', () => {
    const { b } = make()
    ;[...'FSFSF'].forEach((c, i) => (c === 'F' ? b.failed(-3 * sec + i, 'http_5xx', false) : b.succeeded(-3 * sec + i, false)))
    expect(b.state(0)).toBe('open')
  })
})

describe('KeyBreaker: open', () => {
  it('turns half-open once now reaches openUntil, told once however often it is asked', () => {
    const { b, events, clock } = make()
    trip(b, 0)
    expect(b.state(30 * sec - 1)).toBe('open')
    expect(b.wait(30 * sec - 1)).toBe(1)
    clock.t = 30 * sec
    expect(b.wait(30 * sec)).toBe(0)
    expect(b.state(30 * sec)).toBe('half-open')
    expect(b.state(31 * sec)).toBe('half-open')
    expect(b.openUntil).toBe(-Infinity)
    expect(events).toEqual(['open', 'half-open'])
  })

  it('lets nothing through while open: dispatched() takes no trial', () => {
    const { b } = make()
    trip(b, 0)
    expect(b.dispatched(1)).toBe(false)
    expect(b.trialOut).toBe(false)
  })

  it('ignores successes and failures of requests dispatched before it opened', () => {
    const { b, events } = make()
    trip(b, 0)
    const until = b.openUntil
    b.succeeded(1, false)
    b.succeeded(2, false)
    b.failed(3, 'http_5xx', false)
    b.released(4, false)
    expect(b.state(5)).toBe('open')
    expect([b.openUntil, b.opens, b.successes, b.consecutiveFailures, b.lastFailureAt]).toEqual([until, 1, 0, 3, 0])
    expect(events).toEqual(['open'])
  })

  it('doubles the period per consecutive opening: 30 → 60 → 120 → 240 → 300 → 300 s', () => {
    const { b } = make()
    let t = 0
    trip(b, t)
    const periods: number[] = []
    for (let i = 0; i < 6; i++) {
      periods.push(b.openUntil - t)
      t = b.openUntil
      expect(b.state(t)).toBe('half-open')
      expect(b.dispatched(t)).toBe(true)
      b.failed(t, 'http_5xx', true)
    }
    expect(periods).toEqual([30, 60, 120, 240, 300, 300].map((s) => s * sec))
    expect(b.opens).toBe(7)
  })

  it('follows configured openMs and maxOpenMs', () => {
    const { b } = make({ openMs: 1_000, maxOpenMs: 3_000 })
    trip(b, 0)
    expect(b.openUntil).toBe(1_000)
    b.dispatched(1_000)
    b.failed(1_000, 'reset', true)
    expect(b.openUntil).toBe(3_000)
    b.dispatched(3_000)
    b.failed(3_000, 'reset', true)
    expect(b.openUntil).toBe(6_000)
  })

  it('multiplies the period by a jitter factor in [1 - jitter, 1 + jitter)', () => {
    const period = (rand: number, opens: number): number => {
      const { b } = make({ jitter: 0.1 }, () => rand)
      let t = 0
      trip(b, t)
      for (let i = 1; i < opens; i++) {
        t = b.openUntil
        b.dispatched(t)
        b.failed(t, 'http_5xx', true)
      }
      return b.openUntil - t
    }
    expect(period(0, 1)).toBeCloseTo(27_000, 6)
    expect(period(0.5, 1)).toBeCloseTo(30_000, 6)
    const almostOne = 1 - 1e-9
    expect(period(almostOne, 1)).toBeLessThan(33_000)
    expect(period(almostOne, 1)).toBeGreaterThan(32_999)
    // The cap is applied before jitter: 300 s × [0.9, 1.1).
    expect(period(0, 6)).toBeCloseTo(270_000, 6)
    expect(period(almostOne, 6)).toBeLessThan(330_000)
    expect(period(almostOne, 6)).toBeGreaterThan(329_999)
  })

  it('spreads periods over the whole jitter range with a real random source', () => {
    let seed = 42
    const lcg = (): number => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31
    const seen: number[] = []
    for (let i = 0; i < 200; i++) {
      const { b } = make({ jitter: 0.2 }, lcg)
      trip(b, 0)
      seen.push(b.openUntil)
    }
    expect(Math.min(...seen)).toBeGreaterThanOrEqual(24_000)
    expect(Math.max(...seen)).toBeLessThan(36_000)
    expect(Math.max(...seen) - Math.min(...seen)).toBeGreaterThan(10_000)
  })
})

describe('KeyBreaker: half-open', () => {
  function halfOpen(over: Partial<BreakerSettings> = {}) {
    const m = make(over)
    trip(m.b, 0)
    m.clock.t = m.b.openUntil
    expect(m.b.state(m.clock.t)).toBe('half-open')
    return { ...m, t: m.clock.t }
  }

  it('lets exactly one trial out at a time', () => {
    const { b, t } = halfOpen()
    expect(b.wait(t)).toBe(0)
    expect(b.dispatched(t)).toBe(true)
    expect(b.trialOut).toBe(true)
    expect(b.wait(t)).toBe(Infinity)
    expect(b.dispatched(t)).toBe(false)
    expect(b.dispatched(t + 1)).toBe(false)
  })

  it('a trial success counts one; a new trial may go; successThreshold in a row close it', () => {
    const { b, events, t } = halfOpen()
    b.dispatched(t)
    b.succeeded(t + 1, true)
    expect(b.state(t + 1)).toBe('half-open')
    expect(b.successes).toBe(1)
    expect(b.trialOut).toBe(false)
    expect(b.wait(t + 1)).toBe(0)
    expect(b.dispatched(t + 2)).toBe(true)
    b.succeeded(t + 3, true)
    expect(b.state(t + 3)).toBe('closed')
    expect([b.opens, b.successes, b.consecutiveFailures, b.openUntil, b.trialOut]).toEqual([0, 0, 0, -Infinity, false])
    expect(events).toEqual(['open', 'half-open', 'closed'])
  })

  it('closing clears the window: old failures do not count again', () => {
    const { b, t } = halfOpen()
    for (let i = 0; i < 2; i++) {
      b.dispatched(t)
      b.succeeded(t, true)
    }
    trip(b, t + 1, 2) // without the clear the window would hold 5 failures of 7
    expect(b.state(t + 1)).toBe('closed')
    b.failed(t + 2, 'http_5xx', false)
    expect(b.state(t + 2)).toBe('open')
    expect(b.openUntil - (t + 2)).toBe(30 * sec) // doubling reset too
  })

  it('successThreshold is configurable', () => {
    const { b, t } = halfOpen({ successThreshold: 3 })
    for (let i = 0; i < 2; i++) {
      b.dispatched(t + i)
      b.succeeded(t + i, true)
    }
    expect(b.state(t + 2)).toBe('half-open')
    b.dispatched(t + 2)
    b.succeeded(t + 2, true)
    expect(b.state(t + 2)).toBe('closed')
  })

  it('a trial failure re-opens it with the doubled period and restarts the success count', () => {
    const { b, events, t } = halfOpen()
    b.dispatched(t)
    b.succeeded(t, true)
    b.dispatched(t + 1)
    b.failed(t + 1, 'timeout', true)
    expect(b.state(t + 1)).toBe('open')
    expect(b.openUntil).toBe(t + 1 + 60 * sec)
    expect([b.successes, b.trialOut, b.lastFailureKind, b.opens]).toEqual([0, false, 'timeout', 2])
    expect(events).toEqual(['open', 'half-open', 'open'])
  })

  it('released(trial) frees the trial and counts nothing', () => {
    const { b, events, t } = halfOpen()
    b.dispatched(t)
    b.released(t + 1, true)
    expect(b.trialOut).toBe(false)
    expect(b.wait(t + 1)).toBe(0)
    expect(b.state(t + 1)).toBe('half-open')
    expect([b.successes, b.consecutiveFailures]).toEqual([0, 3])
    expect(b.dispatched(t + 1)).toBe(true)
    expect(events).toEqual(['open', 'half-open'])
  })

  it('ignores the outcomes of requests that are not the trial', () => {
    const { b, events, t } = halfOpen()
    b.dispatched(t)
    b.succeeded(t + 1, false)
    b.failed(t + 2, 'http_5xx', false)
    b.released(t + 3, false)
    expect([b.state(t + 3), b.successes, b.trialOut]).toEqual(['half-open', 0, true])
    expect(events).toEqual(['open', 'half-open'])
  })

  it('a trial still out when it re-opened keeps the slot until it reports', () => {
    const { b, t } = halfOpen({ probes: true })
    expect(b.dispatched(t)).toBe(true)
    b.probeFailed(t + 1, 'probe') // re-opens, trial still upstream
    expect(b.state(t + 1)).toBe('open')
    const later = b.openUntil
    expect(b.state(later)).toBe('half-open')
    expect(b.wait(later)).toBe(Infinity)
    expect(b.dispatched(later)).toBe(false)
    b.released(later + 1, true)
    expect(b.dispatched(later + 1)).toBe(true)
  })

  it('a trial report that arrives while open frees the trial and is otherwise ignored', () => {
    const { b, t } = halfOpen({ probes: true })
    b.dispatched(t)
    b.probeFailed(t + 1, 'probe')
    b.succeeded(t + 2, true)
    expect([b.state(t + 2), b.trialOut, b.successes]).toEqual(['open', false, 0])
  })
})

describe('KeyBreaker: probes', () => {
  it('passes close an open breaker before its period ends; the open period is not touched by a failure', () => {
    const { b, events } = make({ probes: true })
    trip(b, 0)
    expect(b.wantsProbe(1)).toBe(true)
    const until = b.openUntil
    b.probePassed(1 * sec)
    expect([b.state(1 * sec), b.successes]).toEqual(['open', 1])
    b.probeFailed(2 * sec, 'probe')
    expect([b.state(2 * sec), b.successes, b.openUntil, b.opens]).toEqual(['open', 0, until, 1])
    expect(b.lastFailureKind).toBe('probe')
    b.probePassed(3 * sec)
    expect(b.state(3 * sec)).toBe('open')
    b.probePassed(4 * sec)
    expect(b.state(4 * sec)).toBe('closed')
    expect(b.wantsProbe(4 * sec)).toBe(false)
    expect(events).toEqual(['open', 'closed'])
  })

  it('a probe pass from open carries into half-open and adds up with a trial success', () => {
    const { b } = make({ probes: true })
    trip(b, 0)
    b.probePassed(1)
    const t = b.openUntil
    expect(b.state(t)).toBe('half-open')
    expect(b.successes).toBe(1)
    b.dispatched(t)
    b.succeeded(t, true)
    expect(b.state(t)).toBe('closed')
  })

  it('while half-open, a probe failure re-opens it with the doubled period', () => {
    const { b } = make({ probes: true })
    trip(b, 0)
    const t = b.openUntil
    expect(b.state(t)).toBe('half-open')
    expect(b.wantsProbe(t)).toBe(true)
    b.probeFailed(t, 'timeout')
    expect(b.state(t)).toBe('open')
    expect(b.openUntil).toBe(t + 60 * sec)
  })

  it('probe results on a closed breaker change nothing (a probe that ended after it closed)', () => {
    const { b, events } = make({ probes: true })
    b.probeFailed(0, 'probe')
    b.probeFailed(1, 'probe')
    b.probeFailed(2, 'probe')
    b.probePassed(3)
    expect([b.state(3), b.consecutiveFailures, b.successes, b.lastFailureKind]).toEqual(['closed', 0, 0, null])
    expect(events).toEqual([])
  })

  it('wantsProbe is false for a key without probes, whatever its state', () => {
    const { b } = make({ probes: false })
    trip(b, 0)
    expect(b.wantsProbe(1)).toBe(false)
  })
})

describe('KeyBreaker: disabled', () => {
  it("'auth' with probes: out until probe passes close it, however long that takes", () => {
    const { b, events } = make({ probes: true })
    b.disable(0, 'auth')
    expect([b.state(0), b.disabledReason, b.wait(0), b.openUntil]).toEqual(['disabled', 'auth', Infinity, -Infinity])
    expect(b.dispatched(0)).toBe(false)
    expect(b.wantsProbe(0)).toBe(true)
    const later = 3_600 * sec
    expect(b.state(later)).toBe('disabled')
    b.probePassed(later)
    b.probeFailed(later + 1, 'auth')
    b.probePassed(later + 2)
    expect(b.state(later + 2)).toBe('disabled')
    b.probePassed(later + 3)
    expect([b.state(later + 3), b.disabledReason]).toEqual(['closed', null])
    expect(events).toEqual(['disabled', 'closed'])
  })

  it("'auth' ignores the outcomes of requests sent before it", () => {
    const { b } = make({ probes: true })
    b.disable(0, 'auth')
    b.succeeded(1, false)
    b.succeeded(2, false)
    b.failed(3, 'http_5xx', false)
    expect([b.state(3), b.successes, b.consecutiveFailures]).toEqual(['disabled', 0, 0])
  })

  it("'auth' without probes behaves as open for maxOpenMs, then half-open trials bring it back", () => {
    const { b, events, clock } = make({ probes: false })
    b.disable(10, 'auth')
    expect(b.wantsProbe(10)).toBe(false)
    expect(b.wait(10)).toBe(300 * sec)
    expect(b.openUntil).toBe(10 + 300 * sec)
    expect(b.state(10 + 300 * sec - 1)).toBe('disabled')
    clock.t = 10 + 300 * sec
    expect(b.wait(clock.t)).toBe(0)
    expect([b.state(clock.t), b.disabledReason]).toEqual(['half-open', null])
    for (let i = 0; i < 2; i++) {
      expect(b.dispatched(clock.t)).toBe(true)
      b.succeeded(clock.t, true)
    }
    expect(b.state(clock.t)).toBe('closed')
    expect(events).toEqual(['disabled', 'half-open', 'closed'])
  })

  it('a second auth disable does not restart the period; admin overrides auth; auth does not override admin', () => {
    const { b, events } = make()
    b.disable(0, 'auth')
    b.disable(100 * sec, 'auth')
    expect(b.openUntil).toBe(300 * sec)
    b.disable(200 * sec, 'admin')
    expect([b.disabledReason, b.wait(400 * sec), b.state(400 * sec)]).toEqual(['admin', Infinity, 'disabled'])
    b.disable(500 * sec, 'auth')
    expect(b.disabledReason).toBe('admin')
    expect(events).toEqual(['disabled', 'disabled'])
  })

  it("'admin': probes never restore it; only enable() does, with everything reset", () => {
    const { b, events } = make({ probes: true })
    trip(b, 0)
    b.disable(1, 'admin')
    expect(b.wantsProbe(1)).toBe(false)
    for (let i = 0; i < 5; i++) b.probePassed(2 + i)
    b.probeFailed(10, 'probe')
    expect([b.state(10_000 * sec), b.successes, b.wait(10_000 * sec)]).toEqual(['disabled', 0, Infinity])
    b.enable(10_001 * sec)
    expect([b.state(10_001 * sec), b.disabledReason, b.opens, b.consecutiveFailures, b.successes, b.openUntil]).toEqual(['closed', null, 0, 0, 0, -Infinity])
    expect(events).toEqual(['open', 'disabled', 'closed'])
    // Doubling starts over.
    trip(b, 10_002 * sec)
    expect(b.openUntil - 10_002 * sec).toBe(30 * sec)
  })

  it('disables from any state, and enable() closes an open breaker', () => {
    for (const from of ['closed', 'open', 'half-open'] as const) {
      const { b } = make()
      if (from !== 'closed') trip(b, 0)
      const t = from === 'half-open' ? b.openUntil : 1
      expect(b.state(t)).toBe(from)
      b.disable(t, 'admin')
      expect(b.state(t)).toBe('disabled')
    }
    const { b, events } = make()
    trip(b, 0)
    b.enable(1)
    expect(b.state(1)).toBe('closed')
    expect(events).toEqual(['open', 'closed'])
  })

  it('enable() on a closed breaker resets its counters and tells no one', () => {
    const { b, events } = make()
    trip(b, 0, 2)
    b.enable(1)
    expect(b.consecutiveFailures).toBe(0)
    b.failed(2, 'http_5xx', false)
    expect(b.state(2)).toBe('closed')
    expect(events).toEqual([])
  })
})

describe('KeyBreaker: configure', () => {
  it('keeps state, counters and the open period in force', () => {
    const { b } = make()
    trip(b, 0)
    b.configure(settings({ openMs: 5_000 }))
    expect([b.state(1), b.openUntil, b.opens]).toEqual(['open', 30 * sec, 1])
    // The next opening uses the new setting.
    b.dispatched(30 * sec)
    b.failed(30 * sec, 'http_5xx', true)
    expect(b.openUntil).toBe(40 * sec)
  })

  it('new thresholds apply at the next outcome', () => {
    const { b } = make()
    trip(b, 0, 2)
    b.configure(settings({ failureThreshold: 2 }))
    expect(b.state(1)).toBe('closed')
    b.failed(1, 'http_5xx', false)
    expect(b.state(1)).toBe('open')
  })

  it('a new windowMs empties the window; the same one keeps it', () => {
    const { b } = make({ failureThreshold: 100 })
    ;[...'FSFS'].forEach((c, i) => (c === 'F' ? b.failed(i, 'http_5xx', false) : b.succeeded(i, false)))
    b.configure(settings({ failureThreshold: 100 }))
    b.configure(settings({ failureThreshold: 100, windowMs: 30_000 }))
    b.failed(5, 'http_5xx', false)
    expect(b.state(5)).toBe('closed')
    b.configure(settings({ failureThreshold: 100, windowMs: 30_000 }))
    ;[...'FSFS'].forEach((c, i) => (c === 'F' ? b.failed(6 + i, 'http_5xx', false) : b.succeeded(6 + i, false)))
    expect(b.state(10)).toBe('open') // 3 of 5 since the resize
  })

  it('turning probes off brings an auth-disabled key back maxOpenMs after it was disabled', () => {
    const { b, events } = make({ probes: true })
    b.disable(0, 'auth')
    expect(b.state(400 * sec)).toBe('disabled')
    b.configure(settings({ probes: false }))
    expect(b.state(400 * sec)).toBe('half-open')
    expect(events).toEqual(['disabled', 'half-open'])
  })
})
