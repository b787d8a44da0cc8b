import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { KeyBreaker, type BreakerSettings, type BreakerState, type HealthFailure } from '../../../../src/core/breaker/index.js'

// Whatever a caller does, in any order and at any time: the breaker never throws, never lets a
// second trial out while one is, and its answers agree with each other (wait() with state(),
// dispatched() with wait(), onChange with real state changes).

const kinds: readonly HealthFailure[] = ['http_5xx', 'reset', 'connect', 'timeout', 'invalid', 'auth', 'probe']

const settingsArb: fc.Arbitrary<BreakerSettings> = fc.record({
  failureThreshold: fc.integer({ min: 1, max: 5 }),
  failureRate: fc.double({ min: 0.05, max: 1, noNaN: true }),
  minRequests: fc.integer({ min: 1, max: 8 }),
  windowMs: fc.integer({ min: 1, max: 120_000 }),
  openMs: fc.integer({ min: 0, max: 60_000 }),
  maxOpenMs: fc.integer({ min: 0, max: 600_000 }),
  successThreshold: fc.integer({ min: 1, max: 4 }),
  jitter: fc.double({ min: 0, max: 0.5, noNaN: true }),
  probes: fc.boolean(),
  maxEjectionPercent: fc.integer({ min: 0, max: 100 }),
})

type Op =
  | { op: 'tick', ms: number }
  | { op: 'dispatch' }
  | { op: 'succeed' | 'fail' | 'release', which: number, kind: HealthFailure }
  | { op: 'probePassed' }
  | { op: 'probeFailed', kind: HealthFailure }
  | { op: 'disable', reason: 'auth' | 'admin' }
  | { op: 'enable' }
  | { op: 'configure', settings: BreakerSettings }

const kindArb = fc.constantFrom(...kinds)
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('tick' as const), ms: fc.oneof(fc.integer({ min: 0, max: 2_000 }), fc.integer({ min: 0, max: 400_000 })) }) },
  { weight: 5, arbitrary: fc.constant({ op: 'dispatch' as const }) },
  { weight: 8, arbitrary: fc.record({ op: fc.constantFrom('succeed' as const, 'fail' as const, 'release' as const), which: fc.nat(), kind: kindArb }) },
  { weight: 2, arbitrary: fc.constant({ op: 'probePassed' as const }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('probeFailed' as const), kind: kindArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('disable' as const), reason: fc.constantFrom('auth' as const, 'admin' as const) }) },
  { weight: 1, arbitrary: fc.constant({ op: 'enable' as const }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('configure' as const), settings: settingsArb }) },
)

/** A time before everything: reads the state without taking a lazy transition (and so without telling anyone). */
const peek = (b: KeyBreaker): BreakerState => b.state(-Infinity)

/** Runs `ops` against a breaker with a caller that keeps its side of the contract: every dispatched request reports once, with its trial flag. */
function run(initial: BreakerSettings, ops: readonly Op[], seed: number): void {
  let s = seed >>> 0
  const rand = (): number => (s = (Math.imul(s, 1_664_525) + 1_013_904_223) >>> 0) / 2 ** 32
  const b = new KeyBreaker('p~k', 'p', 'k', initial, rand)
  let probes = initial.probes
  let now = 0
  const told: BreakerState[] = ['closed']
  b.onChange = (x) => {
    const state = peek(x)
    const before = told[told.length - 1]
    // Every call is a transition; disabled → disabled is a change of reason (auth → admin).
    if (state === before) expect(state).toBe('disabled')
    told.push(state)
  }
  /** Requests in flight, each with whether it took the trial. */
  const inflight: boolean[] = []

  const check = (): void => {
    const trials = inflight.filter(Boolean).length
    expect(trials).toBeLessThanOrEqual(1)
    expect(b.trialOut).toBe(trials === 1)
    const state = b.state(now)
    // No transition goes untold.
    expect(told[told.length - 1]).toBe(state)
    const wait = b.wait(now)
    expect(Number.isNaN(wait)).toBe(false)
    expect(wait).toBeGreaterThanOrEqual(0)
    if (state === 'closed') expect(wait).toBe(0)
    if (state === 'open') {
      expect(wait).toBeGreaterThan(0)
      expect(b.openUntil).toBe(now + wait)
    }
    if (state === 'half-open') expect(wait).toBe(b.trialOut ? Infinity : 0)
    expect(b.disabledReason === null).toBe(state !== 'disabled')
    expect(b.wantsProbe(now)).toBe(probes && (state === 'open' || state === 'half-open' || b.disabledReason === 'auth'))
    if (state === 'closed') expect([b.opens, b.successes, b.openUntil]).toEqual([0, 0, -Infinity])
  }

  for (const o of ops) {
    switch (o.op) {
      case 'tick':
        now += o.ms
        break
      case 'dispatch': {
        const free = b.state(now) === 'half-open' && b.wait(now) === 0
        const trial = b.dispatched(now)
        expect(trial).toBe(free)
        inflight.push(trial)
        break
      }
      case 'succeed':
      case 'fail':
      case 'release': {
        if (inflight.length === 0) break
        const [trial] = inflight.splice(o.which % inflight.length, 1) as [boolean]
        if (o.op === 'succeed') b.succeeded(now, trial)
        else if (o.op === 'fail') b.failed(now, o.kind, trial)
        else b.released(now, trial)
        break
      }
      case 'probePassed':
        b.probePassed(now)
        break
      case 'probeFailed':
        b.probeFailed(now, o.kind)
        break
      case 'disable':
        b.disable(now, o.reason)
        break
      case 'enable':
        b.enable(now)
        break
      case 'configure':
        b.configure(o.settings)
        probes = o.settings.probes
        break
    }
    check()
  }
}

describe('KeyBreaker: properties', () => {
  it('any sequence of calls keeps at most one trial out, tells every transition once, and never throws', () => {
    fc.assert(
      fc.property(settingsArb, fc.array(opArb, { maxLength: 120 }), fc.integer(), (settings, ops, seed) => {
        run(settings, ops, seed)
      }),
      { numRuns: 400 },
    )
  })

  it('never throws even when misused: wrong trial flags, time going backwards, odd settings', () => {
    const call = fc.record({
      fn: fc.constantFrom('state', 'wait', 'dispatched', 'succeeded', 'failed', 'released', 'disable', 'enable', 'probePassed', 'probeFailed', 'wantsProbe', 'configure'),
      now: fc.oneof(fc.integer({ min: -1e6, max: 1e6 }), fc.double({ noNaN: false })),
      trial: fc.boolean(),
      kind: kindArb,
      reason: fc.constantFrom('auth' as const, 'admin' as const),
    })
    fc.assert(
      fc.property(settingsArb, fc.array(call, { maxLength: 80 }), fc.array(settingsArb, { minLength: 1, maxLength: 3 }), (settings, calls, others) => {
        const b = new KeyBreaker('p~k', 'p', 'k', settings, () => 0.5)
        calls.forEach((c, i) => {
          switch (c.fn) {
            case 'state': b.state(c.now); break
            case 'wait': b.wait(c.now); break
            case 'dispatched': b.dispatched(c.now); break
            case 'succeeded': b.succeeded(c.now, c.trial); break
            case 'failed': b.failed(c.now, c.kind, c.trial); break
            case 'released': b.released(c.now, c.trial); break
            case 'disable': b.disable(c.now, c.reason); break
            case 'enable': b.enable(c.now); break
            case 'probePassed': b.probePassed(c.now); break
            case 'probeFailed': b.probeFailed(c.now, c.kind); break
            case 'wantsProbe': b.wantsProbe(c.now); break
            case 'configure': b.configure(others[i % others.length]!); break
          }
          expect(typeof b.trialOut).toBe('boolean')
        })
      }),
      { numRuns: 300 },
    )
  })
})
