import { describe, expect, test } from 'vitest'
import type { LimitWindow, RateLimitSnapshot } from '../../../../src/core/headers/rate-limits.js'
import type { RateLimitKind } from '../../../../src/core/pacer/classify-429.js'
import { KeyPacer, quotaOutageMs, type AttemptOutcome, type PacerLimits } from '../../../../src/core/pacer/key-pacer.js'

const T0 = 1_000_000

const pacer = (limits: PacerLimits, model: string | null = null): KeyPacer =>
  new KeyPacer(model === null ? 'openai/k1' : `openai/k1/${model}`, 'openai', 'k1', model, limits)

const snap = (s: Partial<RateLimitSnapshot>): RateLimitSnapshot =>
  ({ requests: null, tokens: null, inputTokens: null, outputTokens: null, retryAfterMs: null, ...s })
const win = (limit: number | null, remaining: number | null, resetInMs: number | null): LimitWindow => ({ limit, remaining, resetInMs })

const outcome = (o: Partial<AttemptOutcome>): AttemptOutcome =>
  ({ dispatchedAt: T0, status: 200, tokensCharged: 0, tokensUsed: null, ...o })

/** One request dispatched at `at` and answered `status` at `at + latency`. */
function roundTrip(p: KeyPacer, at: number, status = 200, tokens = 0, latency = 100): void {
  p.take(at, tokens)
  p.settled(at + latency, outcome({ dispatchedAt: at, status, tokensCharged: tokens }))
}

describe('KeyPacer: identity and limits', () => {
  test('keeps its id, provider, key and model; ceilings from the limits', () => {
    const p = pacer({ rpm: 60, tpm: 30_000 }, 'gpt-4o')
    expect([p.id, p.provider, p.key, p.model]).toEqual(['openai/k1/gpt-4o', 'openai', 'k1', 'gpt-4o'])
    expect(p.requests.ceiling).toBe(60)
    expect(p.tokens.ceiling).toBe(30_000)
    expect(pacer({ rpm: null, tpm: null }).requests.ceiling).toBe(Infinity)
  })
})

describe('KeyPacer: wait', () => {
  test('is the max of both dimensions', () => {
    // 1 000 tokens at 0.97 × 6 000 TPM take 10.3 s; one request at 0.97 × 60 RPM, 1.03 s.
    const tokenBound = pacer({ rpm: 60, tpm: 6_000 })
    tokenBound.take(T0, 1_000)
    expect(tokenBound.wait(T0, 1_000, false)).toBeCloseTo((1_000 * 60_000) / 5_820, 9)

    const requestBound = pacer({ rpm: 60, tpm: 600_000 })
    requestBound.take(T0, 1_000)
    expect(requestBound.wait(T0, 1_000, false)).toBeCloseTo(1000 / 0.97, 9)
  })

  test('unpaced when neither dimension has a limit', () => {
    const p = pacer({ rpm: null, tpm: null })
    for (let i = 0; i < 100; i++) p.take(T0, 10_000)
    expect(p.wait(T0, 10_000, true)).toBe(0)
    expect(p.inflight).toBe(100)
  })

  test('a pause in either dimension holds the key', () => {
    const p = pacer({ rpm: 60, tpm: 60_000 })
    p.refused(T0, T0 - 1, 'tpm', snap({ retryAfterMs: 4_000 }))
    expect(p.wait(T0, 1, false)).toBe(4_000)
    p.refused(T0, T0 - 1, 'rpm', snap({ retryAfterMs: 9_000 }))
    expect(p.wait(T0, 1, false)).toBe(9_000)
  })

  test('waiting=true probes both dimensions, waiting=false neither', () => {
    const make = (): KeyPacer => {
      const p = pacer({ rpm: 600, tpm: 600_000 })
      for (let i = 0; i < 300; i++) {
        p.requests.accepted(T0 - 59_000 + i * 100, T0 - 60_000, 1)
        p.tokens.accepted(T0 - 59_000 + i * 100, T0 - 60_000, 1_000)
      }
      p.wait(T0, 1, true) // refused with demand waiting: the estimates are measured, probed the slow way
      p.refused(T0, T0 - 1, 'rpm', null)
      p.refused(T0, T0 - 1, 'tpm', null)
      expect([p.requests.estimate, p.tokens.estimate]).toEqual([300, 300_000])
      return p
    }
    const idle = make()
    idle.wait(T0 + 600_000, 1, false)
    expect([idle.requests.estimate, idle.tokens.estimate]).toEqual([300, 300_000])
    const busy = make()
    busy.wait(T0 + 600_000, 1, true)
    expect(busy.requests.estimate).toBeCloseTo(315, 9)
    expect(busy.tokens.estimate).toBeCloseTo(315_000, 6)
  })
})

describe('KeyPacer: in flight', () => {
  test('take adds one, settled removes one, whatever the outcome', () => {
    const p = pacer({ rpm: null, tpm: null })
    p.take(T0, 10)
    p.take(T0, 10)
    p.take(T0, 10)
    expect(p.inflight).toBe(3)
    p.settled(T0 + 1, outcome({ status: 200 }))
    p.settled(T0 + 1, outcome({ status: 429 }))
    p.settled(T0 + 1, outcome({ status: 0 }))
    expect(p.inflight).toBe(0)
  })
})

describe('KeyPacer: quota', () => {
  test('disables the key for 1 h; wait returns the remaining outage', () => {
    const p = pacer({ rpm: 60, tpm: 60_000 })
    expect(quotaOutageMs).toBe(3_600_000)
    expect(p.refused(T0, T0 - 1, 'quota', snap({ retryAfterMs: 5_000 }))).toBe(false)
    expect(p.disabled(T0)).toBe(true)
    expect(p.wait(T0, 1, false)).toBe(3_600_000)
    expect(p.wait(T0 + 1_000, 1, false)).toBe(3_599_000)
    expect(p.disabled(T0 + 3_599_999)).toBe(true)
    expect(p.disabled(T0 + 3_600_000)).toBe(false)
    expect(p.wait(T0 + 3_600_000, 1, false)).toBe(0)
    // Billing is not rate: neither dimension retreated or paused.
    expect(p.requests.rate(T0)).toBeCloseTo(58.2, 12)
    expect(p.tokens.rate(T0)).toBeCloseTo(58_200, 9)
    expect(p.requests.pauseUntil).toBe(-Infinity)
    expect(p.refusals.quota).toBe(1)
  })

  test('an accepted answer to a request sent before the outage does not end it', () => {
    const p = pacer({ rpm: 60, tpm: null })
    p.take(T0 - 500, 0)
    p.refused(T0, T0 - 1, 'quota', null)
    p.settled(T0 + 1_000, outcome({ dispatchedAt: T0 - 500, status: 200 }))
    expect(p.disabled(T0 + 1_000)).toBe(true)
    expect(p.wait(T0 + 1_000, 1, false)).toBe(3_599_000)
  })

  test('after the hour the key gets a try; an accepted answer then re-enables it for good', () => {
    const p = pacer({ rpm: 60, tpm: null })
    p.refused(T0, T0 - 1, 'quota', null)
    const retry = T0 + quotaOutageMs
    roundTrip(p, retry)
    expect(p.disabledUntil).toBe(-Infinity)
    expect(p.disabled(retry + 100)).toBe(false)
  })

  test('a second quota refusal after the hour starts another hour', () => {
    const p = pacer({ rpm: 60, tpm: null })
    p.refused(T0, T0 - 1, 'quota', null)
    p.refused(T0 + quotaOutageMs + 200, T0 + quotaOutageMs, 'quota', null)
    expect(p.wait(T0 + quotaOutageMs + 200, 1, false)).toBe(quotaOutageMs)
    expect(p.refusals.quota).toBe(2)
  })
})

describe('KeyPacer: 429 types', () => {
  test('counts the UNKNOWN 429s of the last 60 s, for the typing rule that turns the third into CONCURRENT', () => {
    const p = pacer({ rpm: null, tpm: null })
    const at = [0, 20_000, 50_000, 70_000]
    for (const t of at) p.refused(T0 + t, T0 + t - 1, 'unknown', null)
    p.refused(T0 + 71_000, T0 + 70_999, 'rpm', null)
    const table: [number, number][] = [[70_000, 2], [109_999, 2], [110_000, 1], [129_999, 1], [130_000, 0]]
    for (const [t, n] of table) expect(p.recentUnknown429s(T0 + t), `at ${t}`).toBe(n)
  })

  test("'concurrent' only counts", () => {
    const p = pacer({ rpm: 60, tpm: 60_000 })
    expect(p.refused(T0, T0 - 1, 'concurrent', snap({ retryAfterMs: 3_000 }))).toBe(false)
    expect(p.refusals.concurrent).toBe(1)
    expect(p.requests.rate(T0)).toBeCloseTo(58.2, 12)
    expect(p.tokens.rate(T0)).toBeCloseTo(58_200, 9)
    expect(p.wait(T0, 1, false)).toBe(0)
    expect(p.state(T0)).toBe('steady')
    expect(p.disabled(T0)).toBe(false)
  })

  test("'tpm' retreats only the token dimension", () => {
    const p = pacer({ rpm: 60, tpm: 60_000 })
    expect(p.refused(T0, T0 - 1, 'tpm', snap({ retryAfterMs: 3_000 }))).toBe(true)
    expect(p.tokens.rate(T0)).toBeCloseTo(29_100, 9)
    expect(p.tokens.pauseUntil).toBe(T0 + 3_000)
    expect(p.requests.rate(T0)).toBeCloseTo(58.2, 12)
    expect(p.requests.pauseUntil).toBe(-Infinity)
    expect(p.requests.last429At).toBe(-Infinity)
  })

  for (const kind of ['rpm', 'unknown', 'overload'] as const) {
    test(`'${kind}' retreats only the request dimension`, () => {
      const p = pacer({ rpm: 60, tpm: 60_000 })
      expect(p.refused(T0, T0 - 1, kind, snap({ retryAfterMs: 3_000 }))).toBe(true)
      expect(p.requests.rate(T0)).toBeCloseTo(29.1, 12)
      expect(p.requests.pauseUntil).toBe(T0 + 3_000)
      expect(p.tokens.rate(T0)).toBeCloseTo(58_200, 9)
      expect(p.tokens.pauseUntil).toBe(-Infinity)
      expect(p.refusals[kind]).toBe(1)
    })
  }

  test('one retreat per episode through the key too', () => {
    const p = pacer({ rpm: 60, tpm: null })
    const started = Array.from({ length: 10 }, (_, i) => p.refused(T0 + i, T0 - 100 + i, 'rpm', snap({ retryAfterMs: 1_000 })))
    expect(started.filter(Boolean)).toHaveLength(1)
    expect(p.requests.rate(T0 + 10)).toBeCloseTo(29.1, 12)
    expect(p.refusals.rpm).toBe(10)
  })

  test('counters by type, and the last refusal', () => {
    const p = pacer({ rpm: 60, tpm: 60_000 })
    const kinds: RateLimitKind[] = ['rpm', 'rpm', 'tpm', 'concurrent', 'concurrent', 'concurrent', 'overload', 'unknown', 'quota']
    kinds.forEach((k, i) => p.refused(T0 + i * 10, T0 - 1, k, null))
    expect(p.refusals).toEqual({ rpm: 2, tpm: 1, concurrent: 3, quota: 1, overload: 1, unknown: 1 })
    expect(p.lastRefusalAt).toBe(T0 + 80)
    expect(p.lastRefusalKind).toBe('quota')
  })

  test('before any refusal', () => {
    const p = pacer({ rpm: 60, tpm: 60_000 })
    expect(p.refusals).toEqual({ rpm: 0, tpm: 0, concurrent: 0, quota: 0, overload: 0, unknown: 0 })
    expect(p.lastRefusalAt).toBe(-Infinity)
    expect(p.lastRefusalKind).toBeNull()
  })
})

describe('KeyPacer: the pause of a typed 429', () => {
  const cases: Array<{ name: string, kind: RateLimitKind, s: RateLimitSnapshot | null, dim: 'requests' | 'tokens', pause: number }> = [
    { name: 'rpm, retry-after', kind: 'rpm', s: snap({ retryAfterMs: 2_500, requests: win(60, 0, 9_000) }), dim: 'requests', pause: 2_500 },
    { name: 'rpm, no retry-after, requests spent: until their reset', kind: 'rpm', s: snap({ requests: win(60, 0, 9_000) }), dim: 'requests', pause: 9_000 },
    { name: 'rpm, no retry-after, requests left: backoff', kind: 'rpm', s: snap({ requests: win(60, 5, 9_000) }), dim: 'requests', pause: 1_000 },
    { name: 'rpm, no headers: backoff', kind: 'rpm', s: null, dim: 'requests', pause: 1_000 },
    { name: 'tpm, retry-after', kind: 'tpm', s: snap({ retryAfterMs: 700, tokens: win(30_000, 0, 20_000) }), dim: 'tokens', pause: 700 },
    { name: 'tpm, tokens spent: until their reset', kind: 'tpm', s: snap({ tokens: win(30_000, 0, 20_000) }), dim: 'tokens', pause: 20_000 },
    { name: 'tpm, Anthropic input tokens spent: until their reset', kind: 'tpm', s: snap({ inputTokens: win(40_000, 0, 15_000) }), dim: 'tokens', pause: 15_000 },
    { name: 'tpm, no headers: backoff', kind: 'tpm', s: null, dim: 'tokens', pause: 1_000 },
    { name: 'unknown, requests spent: until their reset', kind: 'unknown', s: snap({ requests: win(60, 0, 4_000) }), dim: 'requests', pause: 4_000 },
  ]
  for (const c of cases) {
    test(c.name, () => {
      const p = pacer({ rpm: 60, tpm: 60_000 })
      p.refused(T0, T0 - 1, c.kind, c.s)
      expect(p[c.dim].pauseUntil - T0).toBe(c.pause)
    })
  }
})

describe('KeyPacer: headers', () => {
  test('request and token windows set each dimension', () => {
    const p = pacer({ rpm: null, tpm: null })
    p.observed(T0, snap({ requests: win(500, 400, 1_000), tokens: win(30_000, 20_000, 1_000) }))
    expect(p.requests.estimate).toBe(500)
    expect(p.tokens.estimate).toBe(30_000)
    expect(p.wait(T0, 1, false)).toBe(0)
  })

  test("Anthropic's input-token window stands in for tokens", () => {
    const p = pacer({ rpm: null, tpm: null })
    p.observed(T0, snap({ inputTokens: win(40_000, 100, 12_000), outputTokens: win(8_000, 8_000, 1_000) }))
    expect(p.tokens.estimate).toBe(40_000)
    expect(p.requests.estimate).toBe(Infinity)
    // 100 left of 40 000 is under 2 % (800): paused for the share of the reset that refills 701.
    expect(p.wait(T0, 1, false)).toBeCloseTo((12_000 * 701) / 39_900, 9)
    expect(p.state(T0)).toBe('paused')
  })

  test('nearly spent requests pause before any 429', () => {
    const p = pacer({ rpm: null, tpm: null })
    p.observed(T0, snap({ requests: win(100, 0, 30_000) }))
    expect(p.wait(T0 + 100, 1, false)).toBeCloseTo((30_000 * 3) / 100 - 100, 9)
    expect(p.refusals.rpm).toBe(0)
  })
})

describe('KeyPacer: settled', () => {
  test('reported usage settles the token charge', () => {
    const p = pacer({ rpm: null, tpm: 60_000 })
    p.take(T0, 2_000)
    p.settled(T0 + 500, outcome({ tokensCharged: 2_000, tokensUsed: 500 }))
    expect(p.wait(T0 + 500, 1, false)).toBeCloseTo((500 * 60_000) / 58_200 - 500, 9)
    expect(p.tokens.delivered(T0 + 500)).toBe(500)
  })

  test('without usage the charge stands and counts as delivered', () => {
    const p = pacer({ rpm: null, tpm: 60_000 })
    p.take(T0, 2_000)
    p.settled(T0 + 500, outcome({ tokensCharged: 2_000, tokensUsed: null }))
    expect(p.wait(T0 + 500, 1, false)).toBeCloseTo((2_000 * 60_000) / 58_200 - 500, 9)
    expect(p.tokens.delivered(T0 + 500)).toBe(2_000)
  })

  test('a 429 or a failed exchange is not delivered and does not end an episode', () => {
    for (const status of [0, 429]) {
      const p = pacer({ rpm: 60, tpm: null })
      p.refused(T0, T0 - 1, 'rpm', snap({ retryAfterMs: 1_000 }))
      p.take(T0 + 1_000, 0)
      p.settled(T0 + 2_000, outcome({ dispatchedAt: T0 + 1_000, status }))
      expect(p.requests.delivered(T0 + 2_000)).toBe(0)
      expect(p.refused(T0 + 3_000, T0 + 2_500, 'rpm', snap({ retryAfterMs: 1_000 }))).toBe(false)
    }
  })

  test('an accepted answer is delivered and ends the episode', () => {
    const p = pacer({ rpm: 60, tpm: null })
    p.refused(T0, T0 - 1, 'rpm', snap({ retryAfterMs: 1_000 }))
    roundTrip(p, T0 + 1_000, 200, 0, 1_000)
    expect(p.requests.delivered(T0 + 2_000)).toBe(1)
    expect(p.refused(T0 + 3_000, T0 + 2_500, 'rpm', snap({ retryAfterMs: 1_000 }))).toBe(true)
    expect(p.requests.rate(T0 + 3_000)).toBeCloseTo(14.55, 12)
  })

  test('a 529 (settled, then refused as overload) is no success: one retreat per episode, backoff keeps growing', () => {
    // The scheduler settles every attempt, then reports a 529 as an 'overload' refusal.
    const p = pacer({ rpm: 60, tpm: null })
    const overloaded = (at: number, dispatchedAt: number): boolean => {
      p.settled(at, outcome({ dispatchedAt, status: 529 }))
      return p.refused(at, dispatchedAt, 'overload', null)
    }
    p.take(T0 - 100, 0)
    expect(overloaded(T0, T0 - 100)).toBe(true) // pause 1 s
    p.take(T0 + 1_000, 0)
    expect(overloaded(T0 + 2_000, T0 + 1_000)).toBe(false) // the probe is refused too: same episode
    expect(p.requests.rate(T0 + 2_000)).toBeCloseTo(29.1, 12)
    expect(p.requests.pauseUntil).toBe(T0 + 4_000) // backoff 2 s
    expect(p.requests.delivered(T0 + 2_000)).toBe(0)
  })
})

describe('KeyPacer: nearRateTarget', () => {
  test('false without a known target, or before any accepted answer', () => {
    const unknown = pacer({ rpm: null, tpm: null })
    for (let t = 0; t < 60_000; t += 100) roundTrip(unknown, T0 + t)
    expect(unknown.nearRateTarget(T0 + 60_000)).toBe(false)

    const fresh = pacer({ rpm: 60, tpm: null })
    expect(fresh.nearRateTarget(T0)).toBe(false)
    roundTrip(fresh, T0, 429)
    expect(fresh.nearRateTarget(T0 + 100)).toBe(false)
  })

  test('true at one a second against rpm 60 (target 58.2), false at one every two seconds', () => {
    const full = pacer({ rpm: 60, tpm: null })
    for (let t = 0; t < 60_000; t += 1_000) roundTrip(full, T0 + t, 200, 0, 0)
    // 60 answers over the 59 s since the first: 61/min ≥ 0.9 × 58.2 = 52.38.
    expect(full.nearRateTarget(T0 + 59_000)).toBe(true)

    const half = pacer({ rpm: 60, tpm: null })
    for (let t = 0; t < 60_000; t += 2_000) roundTrip(half, T0 + t, 200, 0, 0)
    expect(half.nearRateTarget(T0 + 59_000)).toBe(false)
  })

  test('measured over the time since the first answer while younger than a minute', () => {
    const p = pacer({ rpm: 60, tpm: null })
    // 9 answers in the first 8 s: 67.5/min.
    for (let t = 0; t <= 8_000; t += 1_000) roundTrip(p, T0 + t, 200, 0, 0)
    expect(p.nearRateTarget(T0 + 8_000)).toBe(true)
    // Then silence: 9 answers over 10 s (54/min) is still near; over 11 s (49/min) no longer.
    expect(p.nearRateTarget(T0 + 10_000)).toBe(true)
    expect(p.nearRateTarget(T0 + 11_000)).toBe(false)
  })

  test('follows the target: a learned L̂ lowers it', () => {
    const p = pacer({ rpm: 600, tpm: null })
    for (let t = 0; t < 60_000; t += 1_000) roundTrip(p, T0 + t, 200, 0, 0)
    expect(p.nearRateTarget(T0 + 59_000)).toBe(false) // 61/min against 582
    p.observed(T0 + 59_000, snap({ requests: win(60, 30, 1_000) }))
    expect(p.nearRateTarget(T0 + 59_000)).toBe(true) // against 58.2
  })
})

describe('KeyPacer: configure', () => {
  test('changes the ceilings and keeps what was learned', () => {
    const p = pacer({ rpm: 600, tpm: 100_000 })
    for (let i = 0; i < 300; i++) roundTrip(p, T0 + i * 196, 200, 0, 0) // 300 in 58.8 s
    const at = T0 + 59_000
    expect(p.refused(at, at - 10, 'rpm', snap({ retryAfterMs: 1_000 }))).toBe(true)
    expect(p.requests.estimate).toBe(300)
    p.refused(at, at - 10, 'tpm', snap({ retryAfterMs: 5_000 }))
    const tokenRate = p.tokens.rate(at)

    p.configure({ rpm: 1_000, tpm: 200_000 })
    expect(p.requests.ceiling).toBe(1_000)
    expect(p.tokens.ceiling).toBe(200_000)
    expect(p.requests.estimate).toBe(300)
    expect(p.requests.target).toBeCloseTo(291, 12)
    expect(p.requests.rate(at)).toBeCloseTo(291, 12)
    expect(p.tokens.rate(at)).toBe(tokenRate)
    expect(p.requests.pauseUntil).toBe(at + 1_000)
    expect(p.tokens.pauseUntil).toBe(at + 5_000)
    expect(p.refusals.rpm).toBe(1)
    expect(p.inflight).toBe(0)
    // Still the same episode: a second 429 for a request sent before it does not retreat again.
    expect(p.refused(at + 100, at - 5, 'rpm', null)).toBe(false)

    p.configure({ rpm: null, tpm: null })
    expect(p.requests.ceiling).toBe(Infinity)
    expect(p.requests.target).toBeCloseTo(291, 12)
  })

  test('a lower ceiling applies at once', () => {
    const p = pacer({ rpm: 600, tpm: null })
    p.take(T0, 0)
    p.configure({ rpm: 60, tpm: null })
    p.take(T0 + 1_000, 0)
    expect(p.wait(T0 + 1_000, 0, false)).toBeCloseTo(1000 / 0.97, 9)
  })
})

describe('KeyPacer: state', () => {
  test('the more severe of the two dimensions', () => {
    const p = pacer({ rpm: 60, tpm: 60_000 })
    expect(p.state(T0)).toBe('steady')
    p.refused(T0, T0 - 1, 'tpm', snap({ retryAfterMs: 2_000 }))
    expect(p.state(T0)).toBe('paused')
    expect(p.requests.state(T0)).toBe('steady')
    expect(p.state(T0 + 2_000)).toBe('retreating')
    p.refused(T0 + 2_000, T0 + 1_500, 'rpm', snap({ retryAfterMs: 5_000 }))
    expect(p.state(T0 + 3_000)).toBe('paused')
    // Both episodes ended by an answer to a request sent at T0 + 7 s.
    roundTrip(p, T0 + 7_000, 200, 100, 500)
    expect(p.tokens.state(T0 + 11_000)).toBe('recovering')
    expect(p.requests.state(T0 + 11_000)).toBe('retreating') // its hold runs from its own 429, at T0 + 2 s
    expect(p.state(T0 + 11_000)).toBe('retreating')
    expect(p.state(T0 + 12_000)).toBe('recovering')
    expect(p.state(T0 + 3_600_000)).toBe('steady')
  })
})

describe('KeyPacer: what a refusal teaches', () => {
  test('an rpm 429 re-estimates L̂ from the last 60 s; an unknown 429 only pauses', () => {
    for (const [kind, learned] of [['rpm', 20], ['unknown', Infinity], ['overload', Infinity]] as const) {
      const p = pacer({ rpm: null, tpm: null })
      for (let i = 0; i < 20; i++) roundTrip(p, T0 + i * 1_000)
      p.take(T0 + 30_000, 0)
      p.refused(T0 + 30_100, T0 + 30_000, kind, null)
      expect(p.requests.estimate).toBe(learned)
      expect(p.requests.pauseUntil).toBe(T0 + 31_100)
    }
  })
})
