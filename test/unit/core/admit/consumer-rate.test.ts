import { describe, expect, test } from 'vitest'
import { ConsumerRate, WINDOW_MS } from '../../../../src/core/admit/consumer-rate.js'

// Time is a plain number of ms; runs start at T0 so nothing depends on 0 looking like "long ago".
const T0 = 1_000_000

/** The fields a test compares, copied out of the reused decision object. */
const snap = (r: ConsumerRate, d = r.decision) => ({ ok: d.ok, tooLarge: d.tooLarge, remaining: d.remaining, resetMs: d.resetMs, retryAfterMs: d.retryAfterMs })

describe('ConsumerRate: burst = the whole limit', () => {
  test('RPM 5: five at once with remaining 4…0, the sixth refused for 12 s', () => {
    const r = new ConsumerRate(5)
    const seen = []
    for (let i = 0; i < 5; i++) seen.push(snap(r, r.tryTake(T0, 1)))
    expect(seen).toEqual([
      { ok: true, tooLarge: false, remaining: 4, resetMs: 12_000, retryAfterMs: 0 },
      { ok: true, tooLarge: false, remaining: 3, resetMs: 24_000, retryAfterMs: 0 },
      { ok: true, tooLarge: false, remaining: 2, resetMs: 36_000, retryAfterMs: 0 },
      { ok: true, tooLarge: false, remaining: 1, resetMs: 48_000, retryAfterMs: 0 },
      { ok: true, tooLarge: false, remaining: 0, resetMs: 60_000, retryAfterMs: 0 },
    ])
    expect(snap(r, r.tryTake(T0, 1))).toEqual({ ok: false, tooLarge: false, remaining: 0, resetMs: 60_000, retryAfterMs: 12_000 })
    // A refusal takes nothing: asking again says the same.
    expect(r.tryTake(T0, 1).retryAfterMs).toBe(12_000)
    expect(r.decision.limit).toBe(5)
  })

  test('a retry exactly retryAfterMs later fits; a millisecond earlier does not', () => {
    const r = new ConsumerRate(5)
    for (let i = 0; i < 5; i++) r.tryTake(T0, 1)
    expect(r.tryTake(T0 + 11_999, 1)).toMatchObject({ ok: false, retryAfterMs: 1 })
    expect(r.tryTake(T0 + 12_000, 1)).toMatchObject({ ok: true, remaining: 0 })
  })

  test('after a burst, one every 12 s keeps going; faster is refused', () => {
    const r = new ConsumerRate(5)
    for (let i = 0; i < 5; i++) r.tryTake(T0, 1)
    for (let k = 1; k <= 20; k++) {
      expect(r.tryTake(T0 + k * 12_000 - 1, 1).ok).toBe(false)
      expect(r.tryTake(T0 + k * 12_000, 1).ok).toBe(true)
    }
  })

  test('the bucket refills gradually and never holds more than the limit', () => {
    const r = new ConsumerRate(5)
    for (let i = 0; i < 5; i++) r.tryTake(T0, 1)
    expect(snap(r, r.peek(T0 + 30_000))).toMatchObject({ ok: true, remaining: 2, resetMs: 30_000 })
    expect(snap(r, r.peek(T0 + 60_000))).toMatchObject({ remaining: 5, resetMs: 0 })
    // Ten idle minutes bank nothing beyond the limit.
    const later = T0 + 600_000
    for (let i = 0; i < 5; i++) expect(r.tryTake(later, 1).ok).toBe(true)
    expect(r.tryTake(later, 1)).toMatchObject({ ok: false, retryAfterMs: 12_000 })
  })

  test('peek takes nothing', () => {
    const r = new ConsumerRate(2)
    for (let i = 0; i < 10; i++) expect(r.peek(T0)).toMatchObject({ ok: true, remaining: 2, resetMs: 0 })
    r.tryTake(T0, 2)
    expect(r.peek(T0)).toMatchObject({ ok: false, remaining: 0, resetMs: 60_000, retryAfterMs: 30_000 })
  })

  test('RPM 7 (an interval of 8571.43 ms): all seven of a burst fit, the eighth waits one interval rounded up', () => {
    const r = new ConsumerRate(7)
    for (let i = 0; i < 7; i++) expect(r.tryTake(T0, 1)).toMatchObject({ ok: true, remaining: 6 - i })
    expect(r.tryTake(T0, 1)).toMatchObject({ ok: false, retryAfterMs: 8572 })
    expect(r.tryTake(T0 + 8572, 1).ok).toBe(true)
  })

  test('remaining counts down by floor when requests arrive a few ms apart', () => {
    const r = new ConsumerRate(5)
    const remaining = [0, 3, 7, 11, 15].map((dt) => r.tryTake(T0 + dt, 1).remaining)
    expect(remaining).toEqual([4, 3, 2, 1, 0])
    const d = r.tryTake(T0 + 19, 1)
    expect(d.ok).toBe(false)
    // 15 + 15 + … units of drain: the wait is a little under 12 s, rounded up to a whole ms.
    expect(d.retryAfterMs).toBe(12_000 - 19)
  })

  test('a fractional clock (performance.now) is floored to whole ms', () => {
    const r = new ConsumerRate(5)
    for (let i = 0; i < 5; i++) r.tryTake(T0 + 0.9, 1)
    expect(r.tryTake(T0 + 12_000.2, 1).ok).toBe(true)
  })

  test('the decision is one object per rate, rewritten by every call', () => {
    const r = new ConsumerRate(5)
    const a = r.tryTake(T0, 1)
    const b = r.peek(T0)
    const c = r.check(T0, 1)
    expect(a).toBe(b)
    expect(b).toBe(c)
    expect(a).toBe(r.decision)
  })

  test('check says whether an amount fits without taking it', () => {
    const r = new ConsumerRate(1000)
    expect(r.check(T0, 1000)).toMatchObject({ ok: true, remaining: 1000 })
    r.tryTake(T0, 600)
    expect(r.check(T0, 500)).toMatchObject({ ok: false, remaining: 400, retryAfterMs: 6000 })
    expect(r.peek(T0).remaining).toBe(400)
  })

  test('a clock that goes back changes nothing', () => {
    const r = new ConsumerRate(5)
    for (let i = 0; i < 5; i++) r.tryTake(T0, 1)
    expect(r.peek(T0 - 50_000)).toMatchObject({ remaining: 0, resetMs: 60_000 })
  })
})

describe('ConsumerRate: amounts larger than the limit', () => {
  test('TPM 1000: 1000 at once fits, 1001 is tooLarge with no retry time and takes nothing', () => {
    const r = new ConsumerRate(1000)
    expect(snap(r, r.tryTake(T0, 1001))).toEqual({ ok: false, tooLarge: true, remaining: 1000, resetMs: 0, retryAfterMs: null })
    expect(snap(r, r.tryTake(T0, 1000))).toEqual({ ok: true, tooLarge: false, remaining: 0, resetMs: 60_000, retryAfterMs: 0 })
  })

  test('tooLarge even when the bucket is full, and still tooLarge when it is empty', () => {
    const r = new ConsumerRate(100)
    r.tryTake(T0, 100)
    expect(r.tryTake(T0, 150)).toMatchObject({ ok: false, tooLarge: true, retryAfterMs: null })
  })

  test('an amount of 0 (or a negative estimate) always fits', () => {
    const r = new ConsumerRate(10)
    r.tryTake(T0, 10)
    expect(r.tryTake(T0, 0)).toMatchObject({ ok: true, remaining: 0 })
    expect(r.tryTake(T0, -5)).toMatchObject({ ok: true, remaining: 0 })
  })
})

describe('ConsumerRate: reconciliation', () => {
  test('TPM estimate, then usage below it: the difference is free again at once', () => {
    const r = new ConsumerRate(1000)
    r.tryTake(T0, 800)
    expect(r.tryTake(T0, 500)).toMatchObject({ ok: false, retryAfterMs: 18_000 })
    r.adjust(T0, 300 - 800) // used 300 of the 800 charged
    expect(r.peek(T0)).toMatchObject({ remaining: 700, resetMs: 18_000 })
    expect(r.tryTake(T0, 500).ok).toBe(true)
  })

  test('a refund never banks more than the whole limit', () => {
    const r = new ConsumerRate(1000)
    r.tryTake(T0, 100)
    r.refund(T0, 5000)
    expect(r.peek(T0)).toMatchObject({ remaining: 1000, resetMs: 0 })
    r.tryTake(T0, 1000)
    expect(r.tryTake(T0, 1).ok).toBe(false)
  })

  test('usage above the estimate puts the consumer in debt; later requests wait it out', () => {
    const r = new ConsumerRate(1000)
    r.tryTake(T0, 800)
    r.adjust(T0, 700) // used 1500 of the 800 charged
    expect(r.peek(T0)).toMatchObject({ ok: false, remaining: 0, resetMs: 90_000 })
    // 1500 owed + 1 asked − 1000 of room = 501 tokens at 1000/min.
    expect(r.tryTake(T0, 1)).toMatchObject({ ok: false, retryAfterMs: 30_060 })
    expect(r.tryTake(T0 + 30_059, 1).ok).toBe(false)
    expect(r.tryTake(T0 + 30_060, 1).ok).toBe(true)
  })

  test('a settlement after time has passed applies the drain first', () => {
    const r = new ConsumerRate(600) // 10 per s
    r.tryTake(T0, 600)
    r.adjust(T0 + 30_000, -100) // 300 drained, then 100 back
    expect(r.peek(T0 + 30_000)).toMatchObject({ remaining: 400, resetMs: 20_000 })
  })
})

describe('ConsumerRate: reconfigure', () => {
  test('raised: what was used stays used', () => {
    const r = new ConsumerRate(5)
    for (let i = 0; i < 5; i++) r.tryTake(T0, 1)
    r.reconfigure(T0, 10)
    expect(r.peek(T0)).toMatchObject({ limit: 10, remaining: 5, resetMs: 30_000 })
    expect(r.limitText).toBe('10')
  })

  test('lowered below the use: debt, drained at the new rate', () => {
    const r = new ConsumerRate(10)
    for (let i = 0; i < 8; i++) r.tryTake(T0, 1)
    r.reconfigure(T0, 5)
    expect(r.tryTake(T0, 1)).toMatchObject({ ok: false, remaining: 0, resetMs: 96_000, retryAfterMs: 48_000 })
  })

  test('time before the change drains at the old rate', () => {
    const r = new ConsumerRate(60) // 1 per s
    r.tryTake(T0, 60)
    r.reconfigure(T0 + 30_000, 6) // 30 drained at 60/min; 30 left owed, at 6/min
    expect(r.peek(T0 + 30_000)).toMatchObject({ remaining: 0, resetMs: 300_000 })
  })

  test('limits that are not a positive finite number are refused', () => {
    for (const bad of [0, -1, Number.NaN, Infinity]) expect(() => new ConsumerRate(bad)).toThrow(RangeError)
    expect(() => new ConsumerRate(5).reconfigure(T0, 0)).toThrow(RangeError)
  })

  test('WINDOW_MS is one minute', () => expect(WINDOW_MS).toBe(60_000))
})
