import { describe, expect, it } from 'vitest'
import {
  BreakerRegistry, consecutiveThreshold, defaultBreakerSettings, ejectionCap, undemotedFirst,
  type BreakerSettings, type KeyBreaker,
} from '../../../../src/core/breaker/index.js'

// Outlier detection as Envoy does it: a run threshold that grows with volume, the failure rate
// deciding when there is volume, hard evidence out at once, and a cap on how much of a model
// soft failures may take out — the key refused by the cap stays in, demoted.

const sec = 1_000
const settings = (over: Partial<BreakerSettings> = {}): BreakerSettings => ({ ...defaultBreakerSettings, jitter: 0, ...over })

/** `n` keys of provider p, all serving one model. */
function group(n: number, over: Partial<BreakerSettings> = {}): { registry: BreakerRegistry, keys: KeyBreaker[] } {
  const registry = new BreakerRegistry(() => 0.5)
  const keys = Array.from({ length: n }, (_, i) => registry.obtain('p', `k${i + 1}`, settings(over)))
  registry.setGroups([keys.map((k) => k.id)])
  return { registry, keys }
}

function fail(b: KeyBreaker, t: number, n: number): void {
  for (let i = 0; i < n; i++) b.failed(t, 'http_5xx', false)
}

describe('defaults', () => {
  it('follow Envoy: 5 in a row, 30 % of ≥ 20 answers in 5 s, at most half of a model out', () => {
    expect(defaultBreakerSettings).toMatchObject({ failureThreshold: 5, failureRate: 0.3, minRequests: 20, windowMs: 5 * sec, maxEjectionPercent: 50, openMs: 30 * sec })
  })

  it('a closed key alone: 4 failures in a row keep it in, the 5th takes it out', () => {
    const registry = new BreakerRegistry(() => 0.5)
    const b = registry.obtain('p', 'solo', settings())
    fail(b, 0, 4)
    expect(b.state(0)).toBe('closed')
    b.failed(0, 'http_5xx', false)
    expect(b.state(0)).toBe('open')
  })
})

describe('the run of failures that trips a key grows with the window\'s volume', () => {
  const cases = [
    { outcomes: 0, threshold: 5 },
    { outcomes: 20, threshold: 5 },
    { outcomes: 250, threshold: 5 }, // log 250 / log(1/0.3) = 4.6
    { outcomes: 1_000, threshold: 6 }, // 5.7
    { outcomes: 10_000, threshold: 8 }, // 7.6
  ]
  for (const c of cases) {
    it(`${c.outcomes} answers in the window: ${c.threshold} in a row`, () => {
      expect(consecutiveThreshold(settings(), c.outcomes)).toBe(c.threshold)
    })
  }

  it('failure_threshold is the floor, and a failure_rate of 1 leaves it alone', () => {
    expect(consecutiveThreshold(settings({ failureThreshold: 9 }), 1_000)).toBe(9)
    expect(consecutiveThreshold(settings({ failureRate: 1 }), 1_000_000)).toBe(5)
  })

  it('at 1,000 answers in the window, 5 failures in a row are noise and the 6th trips it', () => {
    // The rate is kept out of it: 6 failures among 1,000 answers are far below 30 %.
    const b = new BreakerRegistry(() => 0.5).obtain('p', 'busy', settings())
    for (let i = 0; i < 1_000; i++) b.succeeded(i * 4, false)
    fail(b, 4_000, 5)
    expect(b.state(4_000)).toBe('closed')
    b.failed(4_000, 'http_5xx', false)
    expect(b.state(4_000)).toBe('open')
  })
})

describe('with volume the failure rate decides', () => {
  it('30 % of 20 answers takes it out though never 5 in a row', () => {
    const b = new BreakerRegistry(() => 0.5).obtain('p', 'k', settings())
    const seq = 'SSFSFSSFSSFSSFSSSFSS' // 6 of 20, runs of one
    ;[...seq].forEach((c, i) => (c === 'F' ? b.failed(i * 100, 'http_5xx', false) : b.succeeded(i * 100, false)))
    expect(b.state(2_000)).toBe('open')
  })

  it('5 of 20 stays in; 6 of 19 with too little volume stays in too', () => {
    const five = new BreakerRegistry().obtain('p', 'k', settings())
    ;[...'SSFSFSSFSSFSSFSSSSSS'].forEach((c, i) => (c === 'F' ? five.failed(i * 100, 'http_5xx', false) : five.succeeded(i * 100, false)))
    expect(five.state(2_000)).toBe('closed')
    const few = new BreakerRegistry().obtain('p', 'k', settings())
    ;[...'SFSFSSFSSFSSFSSFSSS'].forEach((c, i) => (c === 'F' ? few.failed(i * 100, 'http_5xx', false) : few.succeeded(i * 100, false)))
    expect(few.state(2_000)).toBe('closed')
  })

  it('counts only the last 5 s: old failures age out', () => {
    const b = new BreakerRegistry().obtain('p', 'k', settings())
    ;[...'FFFFSFFFFS'].forEach((c, i) => (c === 'F' ? b.failed(i, 'http_5xx', false) : b.succeeded(i, false)))
    for (let i = 0; i < 16; i++) b.succeeded(6 * sec + i, false)
    // 10 of 28 answers since t=0 failed (36 %), but within the last 5 s only 2 of 18.
    fail(b, 6 * sec + 100, 2)
    expect(b.state(6 * sec + 100)).toBe('closed')
  })
})

describe('hard evidence takes a key out at once, past the cap', () => {
  it('one refused connection opens it, even as the last key of its model', () => {
    const { keys: [only] } = group(1)
    only!.failed(0, 'connect', false)
    expect(only!.state(0)).toBe('open')
    expect(only!.openUntil).toBe(30 * sec)
  })

  it('a refused connection on the second key of three opens it though the first is out already', () => {
    const { keys: [a, b] } = group(3)
    fail(a!, 0, 5)
    expect(a!.state(0)).toBe('open')
    b!.failed(1, 'connect', false)
    expect(b!.state(1)).toBe('open')
  })

  it('disable(auth) is never capped', () => {
    const { keys: [a, b] } = group(2)
    fail(a!, 0, 5)
    b!.disable(1, 'auth')
    expect([a!.state(1), b!.state(1)]).toEqual(['open', 'disabled'])
  })
})

describe('the ejection cap', () => {
  const caps = [
    { size: 1, percent: 50, cap: 0 },
    { size: 2, percent: 50, cap: 1 },
    { size: 3, percent: 50, cap: 1 },
    { size: 4, percent: 50, cap: 2 },
    { size: 10, percent: 10, cap: 1 },
    { size: 10, percent: 5, cap: 1 }, // at least one, as Envoy
    { size: 3, percent: 100, cap: 2 }, // never the last
    { size: 5, percent: 0, cap: 0 },
  ]
  for (const c of caps) {
    it(`${c.size} keys at ${c.percent} %: ${c.cap} out at most`, () => expect(ejectionCap(c.size, c.percent)).toBe(c.cap))
  }

  it('three keys: the first to trip goes out, the second is demoted for open_for and goes out once the first is back', () => {
    const { keys: [a, b, c] } = group(3)
    fail(a!, 0, 5)
    fail(b!, 10, 5)
    expect([a!.state(10), b!.state(10), c!.state(10)]).toEqual(['open', 'closed', 'closed'])
    expect(b!.demoted(10)).toBe(true)
    expect(b!.demotedUntil).toBe(10 + 30 * sec)
    expect(c!.demoted(10)).toBe(false)
    // a comes back: half-open at 30 s, two trials close it.
    for (const t of [30 * sec, 30 * sec + 1]) a!.succeeded(t, a!.dispatched(t))
    expect(a!.state(30 * sec + 1)).toBe('closed')
    // b is still failing: its next failure takes it out now that a is back in.
    b!.failed(30 * sec + 2, 'http_5xx', false)
    expect(b!.state(30 * sec + 2)).toBe('open')
    expect(b!.demoted(30 * sec + 2)).toBe(false)
  })

  it('a half-open key still counts as out', () => {
    const { keys: [a, b] } = group(2)
    fail(a!, 0, 5)
    expect(a!.state(30 * sec)).toBe('half-open')
    fail(b!, 30 * sec, 5)
    expect(b!.state(30 * sec)).toBe('closed')
    expect(b!.demoted(30 * sec)).toBe(true)
  })

  it('the last key of a model is never out for soft failures: demoted, in service, the demotion renewed while it keeps failing and over open_for after', () => {
    const { keys: [only] } = group(1)
    fail(only!, 0, 50)
    expect(only!.state(0)).toBe('closed')
    expect(only!.wait(0)).toBe(0)
    expect(only!.demoted(29 * sec)).toBe(true)
    only!.failed(20 * sec, 'http_5xx', false)
    expect(only!.demotedUntil).toBe(50 * sec)
    expect(only!.demoted(50 * sec)).toBe(false)
  })

  it('a key serving two models must fit both caps', () => {
    const registry = new BreakerRegistry(() => 0.5)
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((k) => registry.obtain('p', k, settings()))
    // wide: a, b, c, d (cap 2); narrow: a, b (cap 1).
    registry.setGroups([['p~a', 'p~b', 'p~c', 'p~d'], ['p~a', 'p~b']])
    fail(a!, 0, 5)
    fail(b!, 1, 5)
    expect([a!.state(1), b!.state(1)]).toEqual(['open', 'closed'])
    fail(c!, 2, 5)
    expect(c!.state(2)).toBe('open')
    fail(d!, 3, 5)
    expect(d!.state(3)).toBe('closed') // wide is at its cap of 2
  })

  it('max_ejection_percent 0: soft failures only demote', () => {
    const { keys: [a] } = group(4, { maxEjectionPercent: 0 })
    fail(a!, 0, 50)
    expect(a!.state(0)).toBe('closed')
    expect(a!.demoted(0)).toBe(true)
  })

  it('setGroups replaces the groups: a key in none has no cap', () => {
    const { registry, keys: [a, b] } = group(2)
    registry.setGroups([])
    fail(a!, 0, 5)
    fail(b!, 0, 5)
    expect([a!.state(0), b!.state(0)]).toEqual(['open', 'open'])
  })

  it('admin enable ends a demotion', () => {
    const { keys: [only] } = group(1)
    fail(only!, 0, 5)
    only!.enable(1)
    expect(only!.demoted(1)).toBe(false)
  })
})

describe('undemotedFirst: a demoted key takes a request only when no other can', () => {
  const key = (name: string, demoted: boolean) => ({ name, breaker: { demoted: () => demoted } })
  const cases = [
    { keys: 'aBc', n: 3, expect: 'ac', note: 'B is demoted' },
    { keys: 'ABc', n: 3, expect: 'c', note: 'only c is not' },
    { keys: 'AB', n: 2, expect: 'AB', note: 'all demoted: all of them' },
    { keys: 'Abc', n: 2, expect: 'b', note: 'only the first n count' },
    { keys: '', n: 0, expect: '', note: 'none' },
  ]
  for (const c of cases) {
    it(`${c.keys || '∅'} → ${c.expect || '∅'} (${c.note})`, () => {
      const list = [...c.keys].map((ch) => key(ch, ch === ch.toUpperCase()))
      const n = undemotedFirst(list, c.n, 0)
      expect(list.slice(0, n).map((k) => k.name).sort().join('')).toBe(c.expect)
      expect(list.map((k) => k.name).sort().join('')).toBe([...c.keys].sort().join('')) // nothing lost
    })
  }
})
