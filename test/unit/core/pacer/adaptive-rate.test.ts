import { describe, expect, test } from 'vitest'
import {
  AdaptiveRate,
  backoffMaxMs,
  headroom,
  holdMs,
  probeAfterMs,
  recoveryGain,
  recoveryStepMs,
} from '../../../../src/core/pacer/adaptive-rate.js'

// Time is a plain number of ms. Runs start at T0 rather than 0 so nothing depends on the
// sliding window's bucket 0 or on -Infinity initial values looking like "long ago".
const T0 = 1_000_000
/** GCRA spacing, ms, at `perMinute`. */
const spacing = (perMinute: number): number => 60_000 / perMinute

/** `n` accepted units spread evenly over the 60 s that end at `end` (all inside the window at `end`). */
function deliver(r: AdaptiveRate, end: number, n: number): void {
  for (let i = 0; i < n; i++) {
    const at = end - 59_000 + Math.floor((i * 59_000) / n)
    r.accepted(at, at - 100, 1)
  }
}

describe('AdaptiveRate: the constants of the law', () => {
  test('defaults of research/algorithms.md §1.3', () => {
    expect(headroom).toBe(0.97)
    expect(holdMs).toBe(10_000)
    expect(recoveryStepMs).toBe(5_000)
    expect(recoveryGain).toBe(0.3)
    expect(backoffMaxMs).toBe(60_000)
    expect(probeAfterMs).toBe(600_000)
  })
})

describe('AdaptiveRate: GCRA, burst 1', () => {
  test('no ceiling and nothing learned: unpaced, wait 0 for any number of takes', () => {
    const r = new AdaptiveRate(null)
    expect(r.ceiling).toBe(Infinity)
    expect(r.target).toBe(Infinity)
    for (let i = 0; i < 1000; i++) {
      expect(r.wait(T0, true)).toBe(0)
      r.take(T0, 1)
    }
    expect(r.wait(T0, true)).toBe(0)
    expect(r.rate(T0)).toBe(Infinity)
    expect(r.state(T0)).toBe('steady')
  })

  test('unpaced token dimension: a huge take does not delay the next one', () => {
    const r = new AdaptiveRate(null)
    r.take(T0, 1_000_000)
    expect(r.wait(T0, false)).toBe(0)
  })

  test('rpm 60: requests are spaced exactly 1000/0.97 ms apart', () => {
    const r = new AdaptiveRate(60)
    expect(r.target).toBeCloseTo(58.2, 12)
    expect(r.rate(T0)).toBeCloseTo(58.2, 12)
    let now = T0
    for (let i = 0; i < 20; i++) {
      expect(r.wait(now, false)).toBeCloseTo(0, 9)
      r.take(now, 1)
      const w = r.wait(now, false)
      expect(w).toBeCloseTo(1000 / 0.97, 9)
      // Just before the slot it still waits; at the slot it goes.
      expect(r.wait(now + w - 1, false)).toBeCloseTo(1, 9)
      now += w
    }
    expect(now - T0).toBeCloseTo((20 * 1000) / 0.97, 6)
  })

  test('burst 1: after a long idle only one request goes at once', () => {
    const r = new AdaptiveRate(600)
    r.take(T0, 1)
    const later = T0 + 3_600_000
    expect(r.wait(later, false)).toBe(0)
    r.take(later, 1)
    expect(r.wait(later, false)).toBeCloseTo(spacing(0.97 * 600), 9)
    expect(r.wait(later, false)).toBeCloseTo(1000 / 9.7, 9)
  })

  test('a take of cost n pushes the schedule n intervals', () => {
    const r = new AdaptiveRate(60_000) // tokens per minute
    r.take(T0, 1000)
    expect(r.wait(T0, false)).toBeCloseTo((1000 * 60_000) / (0.97 * 60_000), 9)
  })

  test('a take arriving late starts from now, not from the old schedule (no banking)', () => {
    const r = new AdaptiveRate(60)
    r.take(T0, 1)
    r.take(T0 + 5_000, 1) // 4 s after its slot
    expect(r.wait(T0 + 5_000, false)).toBeCloseTo(1000 / 0.97, 9)
  })
})

describe('AdaptiveRate: 429 episodes', () => {
  test('the first 429 halves the rate and returns true', () => {
    const r = new AdaptiveRate(60)
    expect(r.refused(T0, T0 - 1, 0)).toBe(true)
    expect(r.rate(T0)).toBeCloseTo(29.1, 12)
    expect(r.last429At).toBe(T0)
  })

  test('ten 429s for requests dispatched before the episode began: one halving', () => {
    const r = new AdaptiveRate(60)
    const started: boolean[] = []
    for (let i = 0; i < 10; i++) started.push(r.refused(T0 + i * 100, T0 - 5_000 + i * 10, 1000))
    expect(started).toEqual([true, false, false, false, false, false, false, false, false, false])
    expect(r.rate(T0 + 1000)).toBeCloseTo(29.1, 12)
  })

  test('429s for requests dispatched after the episode began do not halve again while it lasts', () => {
    const r = new AdaptiveRate(60)
    expect(r.refused(T0, T0 - 1, 1000)).toBe(true)
    // The probe after the pause is refused too: same episode (no success has ended it).
    expect(r.refused(T0 + 2_000, T0 + 1_000, 1000)).toBe(false)
    expect(r.rate(T0 + 2_000)).toBeCloseTo(29.1, 12)
  })

  test('a success for a request dispatched after the episode began ends it; the next 429 starts a new one', () => {
    const r = new AdaptiveRate(60)
    r.refused(T0, T0 - 1, 1000)
    r.accepted(T0 + 3_000, T0 + 1_000, 1)
    expect(r.refused(T0 + 4_000, T0 + 3_500, 1000)).toBe(true)
    expect(r.rate(T0 + 4_000)).toBeCloseTo(14.55, 12)
  })

  test('a success for a request dispatched before the episode began does not end it', () => {
    const r = new AdaptiveRate(60)
    r.refused(T0, T0 - 1, 1000)
    r.accepted(T0 + 3_000, T0 - 500, 1) // an echo from before the overload
    expect(r.refused(T0 + 4_000, T0 + 3_500, 1000)).toBe(false)
    expect(r.rate(T0 + 4_000)).toBeCloseTo(29.1, 12)
  })

  test('a success dispatched exactly when the episode began ends it', () => {
    const r = new AdaptiveRate(60)
    r.refused(T0, T0 - 1, 1000)
    r.accepted(T0 + 3_000, T0, 1)
    expect(r.refused(T0 + 4_000, T0 + 3_500, 1000)).toBe(true)
  })

  test('after an episode ended, a late 429 for a request sent before it began is still an echo', () => {
    const r = new AdaptiveRate(60)
    r.refused(T0, T0 - 1, 1000)
    r.accepted(T0 + 3_000, T0 + 1_000, 1)
    expect(r.refused(T0 + 4_000, T0 - 10, 1000)).toBe(false)
    expect(r.rate(T0 + 4_000)).toBeCloseTo(29.1, 12)
    // …but it does extend the pause.
    expect(r.wait(T0 + 4_000, false)).toBe(1000)
  })

  test('the rate never falls below the floor, 5 % of the ceiling', () => {
    const r = new AdaptiveRate(60)
    const rates: number[] = []
    let now = T0
    for (let i = 0; i < 7; i++) {
      r.refused(now, now - 1, 100)
      rates.push(r.rate(now))
      r.accepted(now + 200, now + 150, 0) // ends the episode without adding samples, so L̂ stays unknown
      now += 1_000
    }
    const expected = [29.1, 14.55, 7.275, 3.6375, 3, 3, 3]
    rates.forEach((rate, i) => expect(rate).toBeCloseTo(expected[i] ?? NaN, 12))
  })

  test('no ceiling, fewer than 3 samples: nothing to halve, only a pause', () => {
    const r = new AdaptiveRate(null)
    r.accepted(T0 - 500, T0 - 600, 1)
    r.accepted(T0 - 400, T0 - 600, 1)
    expect(r.refused(T0, T0 - 100, 2_000)).toBe(true)
    expect(r.estimate).toBe(Infinity)
    expect(r.rate(T0)).toBe(Infinity)
    expect(r.wait(T0, false)).toBe(2_000)
    expect(r.wait(T0 + 2_000, false)).toBe(0)
  })
})

describe('AdaptiveRate: pauses', () => {
  test('retry-after given: pause exactly that, then go', () => {
    const r = new AdaptiveRate(60)
    r.refused(T0, T0 - 1, 7_250)
    expect(r.pauseUntil).toBe(T0 + 7_250)
    expect(r.wait(T0, false)).toBe(7_250)
    expect(r.wait(T0 + 7_249, false)).toBe(1)
    expect(r.wait(T0 + 7_250, false)).toBe(0)
  })

  test('a shorter retry-after never shortens a pause already set', () => {
    const r = new AdaptiveRate(60)
    r.refused(T0, T0 - 1, 10_000)
    r.refused(T0 + 1_000, T0 - 1, 2_000)
    expect(r.pauseUntil).toBe(T0 + 10_000)
    r.refused(T0 + 2_000, T0 - 1, 30_000)
    expect(r.pauseUntil).toBe(T0 + 32_000)
  })

  test('without retry-after: backoff 1 s, 2 s, 4 s … capped at 60 s', () => {
    const r = new AdaptiveRate(60)
    const pauses: number[] = []
    let now = T0
    for (let i = 0; i < 9; i++) {
      r.refused(now, now - 1, null) // the request sent as the last pause ended is refused too
      pauses.push(r.pauseUntil - now)
      now = r.pauseUntil
    }
    expect(pauses).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000])
  })

  test('echoes of one overload (requests sent before the episode began) share its pause and do not grow the backoff', () => {
    const r = new AdaptiveRate(60)
    for (let i = 0; i < 7; i++) r.refused(T0 + i, T0 - 100, null)
    expect(r.pauseUntil - T0).toBe(1_000) // the first one's pause, never 2, 4, 8 … s
    r.refused(T0 + 2_000, T0 + 1_500, null) // sent after the pause: the pause was too short
    expect(r.pauseUntil - (T0 + 2_000)).toBe(2_000)
  })

  test('a retry-after does not advance the backoff', () => {
    const r = new AdaptiveRate(60)
    r.refused(T0, T0 - 1, null) // 1 s
    r.refused(T0 + 1_000, T0 - 1, 5_000)
    r.refused(T0 + 6_000, T0 + 5_999, null)
    expect(r.pauseUntil - (T0 + 6_000)).toBe(2_000)
  })

  test('a success (for a request sent during the episode) resets the backoff to 1 s', () => {
    const r = new AdaptiveRate(60)
    let now = T0
    for (let i = 0; i < 4; i++) {
      r.refused(now, now - 1, null)
      now = r.pauseUntil
    }
    expect(now - T0).toBe(15_000) // 1 + 2 + 4 + 8 s
    r.accepted(now + 500, now, 1)
    r.refused(now + 1_000, now + 900, null)
    expect(r.pauseUntil - (now + 1_000)).toBe(1_000)
  })

  test('an echo success (sent before the episode began) does not reset the backoff', () => {
    const r = new AdaptiveRate(60)
    r.refused(T0, T0 - 1, null) // 1 s, backoff now 2 s
    r.refused(T0 + 1_000, T0 + 500, null) // sent during the episode: 2 s, backoff now 4 s
    r.accepted(T0 + 3_000, T0 - 50, 1) // an echo: the episode goes on
    r.refused(T0 + 3_000, T0 + 2_500, null)
    expect(r.pauseUntil - (T0 + 3_000)).toBe(4_000)
  })

  test('the pause pushes the schedule: the first request after it goes at its end, the next one interval later', () => {
    const r = new AdaptiveRate(60)
    r.take(T0, 1)
    r.refused(T0 + 100, T0, 5_000)
    const end = T0 + 5_100
    expect(r.wait(T0 + 2_000, false)).toBe(3_100)
    expect(r.wait(end, false)).toBe(0)
    r.take(end, 1)
    expect(r.wait(end, false)).toBeCloseTo(spacing(29.1), 9)
  })
})

describe('AdaptiveRate: L̂ re-estimate at the first 429 of an episode', () => {
  test('ceiling 600/min, 300 accepted in the last 60 s: L̂ = 300, target 291', () => {
    const r = new AdaptiveRate(600)
    const now = T0 + 120_000
    deliver(r, now, 300)
    expect(r.delivered(now)).toBe(300)
    r.refused(now, now - 10, 1_000)
    expect(r.estimate).toBe(300)
    expect(r.target).toBeCloseTo(291, 12)
    // The rate halves from what was enforced (0.97 × 600 = 582) and lands on the new target.
    expect(r.rate(now)).toBeCloseTo(291, 12)
  })

  test('acceptances older than 60 s do not count', () => {
    const r = new AdaptiveRate(600)
    deliver(r, T0, 500) // all before T0 + 1 s
    const now = T0 + 120_000
    deliver(r, now, 120)
    r.refused(now, now - 10, 1_000)
    expect(r.estimate).toBe(120)
  })

  test('fewer than 3 samples: L̂ untouched', () => {
    const r = new AdaptiveRate(600)
    r.accepted(T0 - 2_000, T0 - 2_100, 1)
    r.accepted(T0 - 1_000, T0 - 1_100, 1)
    r.refused(T0, T0 - 10, 1_000)
    expect(r.estimate).toBe(Infinity)
    expect(r.target).toBeCloseTo(582, 12)
    expect(r.rate(T0)).toBeCloseTo(291, 12)
  })

  test('exactly 3 samples are enough', () => {
    const r = new AdaptiveRate(600)
    for (let i = 0; i < 3; i++) r.accepted(T0 - 3_000 + i * 1000, T0 - 4_000, 1)
    r.refused(T0, T0 - 10, 1_000)
    expect(r.estimate).toBe(30) // max(floor 5 % × 600 = 30, 3)
  })

  test('L̂ never below the floor, 5 % of the ceiling', () => {
    const r = new AdaptiveRate(600)
    deliver(r, T0, 12)
    r.refused(T0, T0 - 10, 1_000)
    expect(r.estimate).toBe(30)
    expect(r.rate(T0)).toBeCloseTo(0.97 * 30, 12)
  })

  test('refused while delivering at least L̂: L̂ shrinks to 0.9 × L̂', () => {
    const r = new AdaptiveRate(600)
    r.observed(T0 - 60_000, { limit: 100, remaining: 90, resetInMs: 1_000 })
    deliver(r, T0, 150)
    r.refused(T0, T0 - 10, 1_000)
    expect(r.estimate).toBeCloseTo(90, 12)
    expect(r.target).toBeCloseTo(87.3, 12)
    // Enforced was 97, halved to 48.5.
    expect(r.rate(T0)).toBeCloseTo(48.5, 12)
  })

  test('only the first 429 of an episode re-estimates', () => {
    const r = new AdaptiveRate(600)
    deliver(r, T0, 300)
    r.refused(T0, T0 - 10, 1_000)
    deliver(r, T0 + 30_000, 10) // the window now holds far fewer
    r.refused(T0 + 30_000, T0 - 5, 1_000)
    expect(r.estimate).toBe(300)
  })

  test('unpaced key without a ceiling learns L̂ and halves from its new target', () => {
    const r = new AdaptiveRate(null)
    deliver(r, T0, 40)
    r.refused(T0, T0 - 10, 1_000)
    expect(r.estimate).toBe(40)
    expect(r.target).toBeCloseTo(38.8, 12)
    expect(r.rate(T0)).toBeCloseTo(19.4, 12)
  })
})

describe('AdaptiveRate: recovery', () => {
  // Ceiling 60, no samples: a 429 halves 58.2 → 29.1; the gap to the target is 29.1.
  const target = 58.2
  const gap = 29.1
  const after = (steps: number): number => target - gap * (1 - 0.3) ** steps

  test('no change during the 10 s hold', () => {
    const r = new AdaptiveRate(60)
    r.refused(T0, T0 - 1, 1_000)
    for (const t of [0, 1_000, 5_000, 9_000, 9_999]) expect(r.rate(T0 + t)).toBeCloseTo(29.1, 12)
  })

  test('then each 5 s step closes 30 % of the gap to the target', () => {
    const r = new AdaptiveRate(60)
    r.refused(T0, T0 - 1, 1_000)
    expect(r.rate(T0 + 10_000)).toBeCloseTo(37.83, 12) // 58.2 − 29.1 × 0.7
    expect(r.rate(T0 + 14_999)).toBeCloseTo(37.83, 12)
    expect(r.rate(T0 + 15_000)).toBeCloseTo(43.941, 12) // 58.2 − 29.1 × 0.49
    for (let k = 3; k <= 8; k++) expect(r.rate(T0 + 10_000 + 5_000 * (k - 1))).toBeCloseTo(after(k), 10)
  })

  test('closed form: reading once after several steps equals reading at every step', () => {
    const stepwise = new AdaptiveRate(60)
    const once = new AdaptiveRate(60)
    stepwise.refused(T0, T0 - 1, 1_000)
    once.refused(T0, T0 - 1, 1_000)
    for (let t = T0; t <= T0 + 37_000; t += 250) stepwise.rate(t)
    // 10, 15, 20, 25, 30, 35 s: 6 steps.
    expect(once.rate(T0 + 37_000)).toBeCloseTo(after(6), 10)
    expect(stepwise.rate(T0 + 37_000)).toBeCloseTo(after(6), 10)
  })

  test('after a long idle the rate is back at the target', () => {
    const r = new AdaptiveRate(60)
    r.refused(T0, T0 - 1, 1_000)
    expect(r.rate(T0 + 86_400_000)).toBe(r.target)
  })

  test('a 429 during recovery restarts the hold', () => {
    const r = new AdaptiveRate(60)
    r.refused(T0, T0 - 1, 1_000)
    r.accepted(T0 + 2_000, T0 + 1_000, 1)
    expect(r.rate(T0 + 20_000)).toBeCloseTo(after(3), 10)
    // A new episode at 20 s halves what recovery had reached, then holds 10 s again.
    r.refused(T0 + 20_000, T0 + 19_000, 1_000)
    const halved = after(3) / 2
    expect(r.rate(T0 + 20_000)).toBeCloseTo(halved, 10)
    expect(r.rate(T0 + 29_999)).toBeCloseTo(halved, 10)
    expect(r.rate(T0 + 30_000)).toBeCloseTo(target - (target - halved) * 0.7, 10)
  })

  test('echo 429s also restart the hold', () => {
    const r = new AdaptiveRate(60)
    r.refused(T0, T0 - 1, 1_000)
    r.refused(T0 + 8_000, T0 - 2, 1_000)
    expect(r.rate(T0 + 17_999)).toBeCloseTo(29.1, 12)
    expect(r.rate(T0 + 18_000)).toBeCloseTo(after(1), 10)
  })

  test('states: paused → retreating → recovering → steady', () => {
    const r = new AdaptiveRate(60)
    expect(r.state(T0)).toBe('steady')
    r.refused(T0, T0 - 1, 2_000)
    expect(r.state(T0)).toBe('paused')
    expect(r.state(T0 + 1_999)).toBe('paused')
    expect(r.state(T0 + 2_000)).toBe('retreating')
    r.take(T0 + 2_000, 1)
    r.accepted(T0 + 3_000, T0 + 2_000, 1) // the episode is over…
    expect(r.state(T0 + 9_999)).toBe('retreating') // …but the hold is not
    expect(r.state(T0 + 10_000)).toBe('recovering')
    // Steady once within 1 % of the target: 29.1 × 0.7^k < 0.582 first at k = 11, the step at 60 s.
    expect(r.state(T0 + 59_999)).toBe('recovering')
    expect(r.state(T0 + 60_000)).toBe('steady')
  })

  test('state stays retreating while the episode has not been ended by a success', () => {
    const r = new AdaptiveRate(60)
    r.refused(T0, T0 - 1, 2_000)
    expect(r.state(T0 + 3_600_000)).toBe('retreating')
    // The rate recovers regardless: recovery runs off the time since the last 429.
    expect(r.rate(T0 + 3_600_000)).toBe(r.target)
  })
})

describe('AdaptiveRate: response headers', () => {
  test('the limit sets L̂ (and so the target), without a ceiling too', () => {
    const r = new AdaptiveRate(null)
    r.observed(T0, { limit: 500, remaining: 400, resetInMs: 1_000 })
    expect(r.estimate).toBe(500)
    expect(r.target).toBeCloseTo(485, 12)
    r.take(T0, 1)
    expect(r.wait(T0, false)).toBeCloseTo(spacing(485), 9)
  })

  test('the ceiling still caps a higher header limit; a lower header limit wins', () => {
    const r = new AdaptiveRate(60)
    r.observed(T0, { limit: 10_000, remaining: 9_000, resetInMs: 1_000 })
    expect(r.target).toBeCloseTo(58.2, 12)
    r.observed(T0, { limit: 40, remaining: 30, resetInMs: 1_000 })
    expect(r.estimate).toBe(40)
    expect(r.target).toBeCloseTo(38.8, 12)
  })

  // The pause is the share of the time-to-full-reset that brings the budget back above the
  // floor max(1, 2 % of limit): reset × (floor + 1 − remaining) / (limit − remaining).
  const cases: Array<{ limit: number, remaining: number, pauseMs: number | null }> = [
    { limit: 10, remaining: 0, pauseMs: 6_500 * 2 / 10 },
    { limit: 10, remaining: 1, pauseMs: 6_500 * 1 / 9 }, // floor max(1, 0.2) = 1
    { limit: 10, remaining: 2, pauseMs: null },
    { limit: 100, remaining: 2, pauseMs: 6_500 * 1 / 98 }, // floor max(1, 2) = 2
    { limit: 100, remaining: 3, pauseMs: null },
    { limit: 10_000, remaining: 200, pauseMs: 6_500 * 1 / 9_800 },
    { limit: 10_000, remaining: 201, pauseMs: null },
    { limit: 150_000, remaining: 0, pauseMs: 6_500 * 3_001 / 150_000 },
    { limit: 150_000, remaining: 3_001, pauseMs: null },
    { limit: 1, remaining: 0, pauseMs: 6_500 }, // the whole budget is needed back
  ]
  for (const c of cases) {
    test(`limit ${c.limit}, remaining ${c.remaining}: ${c.pauseMs === null ? 'no pause' : `pauses ${c.pauseMs.toFixed(1)} ms`}`, () => {
      const r = new AdaptiveRate(null)
      r.observed(T0, { limit: c.limit, remaining: c.remaining, resetInMs: 6_500 })
      if (c.pauseMs === null) {
        expect(r.pauseUntil).toBe(-Infinity)
        expect(r.wait(T0, false)).toBe(0)
        expect(r.state(T0)).toBe('steady')
      } else {
        expect(r.pauseUntil - T0).toBeCloseTo(c.pauseMs, 9)
        expect(r.wait(T0, false)).toBeCloseTo(c.pauseMs, 9)
        expect(r.state(T0)).toBe('paused')
      }
    })
  }

  test('remaining without a limit uses the limit of earlier headers', () => {
    const r = new AdaptiveRate(null)
    r.observed(T0, { limit: 100, remaining: 50, resetInMs: 1_000 })
    r.observed(T0 + 10, { limit: null, remaining: 0, resetInMs: 4_000 })
    expect(r.pauseUntil).toBe(T0 + 10 + 4_000 * 3 / 100)
  })

  test('no reset: no pause; a header pause never shortens an existing one', () => {
    const r = new AdaptiveRate(null)
    r.observed(T0, { limit: 100, remaining: 0, resetInMs: null })
    expect(r.pauseUntil).toBe(-Infinity)
    r.refused(T0, T0 - 1, 30_000)
    r.observed(T0 + 1, { limit: 100, remaining: 0, resetInMs: 2_000 })
    expect(r.pauseUntil).toBe(T0 + 30_000)
  })

  test('a limit of 0 (unknown) leaves L̂ alone', () => {
    const r = new AdaptiveRate(60)
    r.observed(T0, { limit: 0, remaining: null, resetInMs: null })
    expect(r.estimate).toBe(Infinity)
  })
})

describe('AdaptiveRate: probing L̂ upward', () => {
  /** Ceiling 600, a 429 at T0 with 300 delivered: L̂ = 300. */
  function learned(ceiling: number | null = 600): AdaptiveRate {
    const r = new AdaptiveRate(ceiling)
    deliver(r, T0, 300)
    r.wait(T0, true) // demand waiting: the refusal measured the limit (see 'a faster return')
    r.refused(T0, T0 - 10, 1_000)
    expect(r.estimate).toBe(300)
    return r
  }

  test('after 600 s without a 429 and with demand waiting: ×1.05 once per 600 s', () => {
    const r = learned()
    r.wait(T0 + 599_999, true)
    expect(r.estimate).toBe(300)
    r.wait(T0 + 600_000, true)
    expect(r.estimate).toBeCloseTo(315, 12)
    expect(r.target).toBeCloseTo(0.97 * 315, 12)
    r.wait(T0 + 600_001, true)
    r.wait(T0 + 1_199_999, true)
    expect(r.estimate).toBeCloseTo(315, 12)
    r.wait(T0 + 1_200_000, true)
    expect(r.estimate).toBeCloseTo(330.75, 12)
  })

  test('waiting=false never probes', () => {
    const r = learned()
    for (let t = T0; t <= T0 + 7_200_000; t += 60_000) r.wait(t, false)
    expect(r.estimate).toBe(300)
  })

  test('a 429 restarts the 600 s', () => {
    const r = learned()
    r.refused(T0 + 500_000, T0 - 10, 1_000) // an echo, but still a 429
    r.wait(T0 + 600_000, true)
    expect(r.estimate).toBe(300)
    r.wait(T0 + 1_100_000, true)
    expect(r.estimate).toBeCloseTo(315, 12)
  })

  test('never above the configured ceiling', () => {
    const r = learned(600)
    for (let k = 1; k <= 30; k++) r.wait(T0 + k * 600_000, true)
    expect(r.estimate).toBe(600) // 300 × 1.05^15 = 623.7 is capped
  })

  test('never above the header limit', () => {
    const r = new AdaptiveRate(600)
    r.observed(T0 - 60_000, { limit: 320, remaining: 300, resetInMs: 1_000 })
    deliver(r, T0, 300)
    r.wait(T0, true)
    r.refused(T0, T0 - 10, 1_000)
    expect(r.estimate).toBe(300)
    r.wait(T0 + 600_000, true)
    expect(r.estimate).toBeCloseTo(315, 12)
    r.wait(T0 + 1_200_000, true)
    expect(r.estimate).toBe(320)
    r.wait(T0 + 1_800_000, true)
    expect(r.estimate).toBe(320)
  })

  test('nothing learned, nothing to probe', () => {
    const r = new AdaptiveRate(600)
    r.wait(T0 + 3_600_000, true)
    expect(r.estimate).toBe(Infinity)
  })

  test('without a ceiling or header limit the probe is unbounded', () => {
    const r = learned(null)
    r.wait(T0 + 600_000, true)
    expect(r.estimate).toBeCloseTo(315, 12)
  })
})

describe('AdaptiveRate: token settlement', () => {
  // 60 000 tokens/min: 0.97 × 60 000 = 58 200 a minute, 60 000 / 58 200 ms per token.
  const msPerToken = 60_000 / 58_200

  test('a refund moves the schedule earlier', () => {
    const r = new AdaptiveRate(60_000)
    r.take(T0, 1_000)
    r.adjust(T0 + 200, -400)
    expect(r.wait(T0 + 200, false)).toBeCloseTo(600 * msPerToken - 200, 9)
  })

  test('…but never before now', () => {
    const r = new AdaptiveRate(60_000)
    r.take(T0, 1_000)
    r.adjust(T0 + 200, -900) // would land at T0 + 103 ms
    expect(r.wait(T0 + 200, false)).toBe(0)
    // Nothing was banked: the next take is spaced from now.
    r.take(T0 + 200, 100)
    expect(r.wait(T0 + 200, false)).toBeCloseTo(100 * msPerToken, 9)
  })

  test('extra usage moves the schedule later', () => {
    const r = new AdaptiveRate(60_000)
    r.take(T0, 1_000)
    r.adjust(T0 + 200, 2_000)
    expect(r.wait(T0 + 200, false)).toBeCloseTo(3_000 * msPerToken - 200, 9)
  })

  test('extra usage after the schedule has long passed is absorbed by the idle time', () => {
    const r = new AdaptiveRate(60_000)
    r.take(T0, 1_000)
    r.adjust(T0 + 30_000, 2_000) // 1 000 + 2 000 tokens ≈ 3.1 s of schedule, 30 s have passed
    expect(r.wait(T0 + 30_000, false)).toBe(0)
  })

  test('no-op when unpaced, when nothing was taken, or for a zero delta', () => {
    const unpaced = new AdaptiveRate(null)
    unpaced.take(T0, 1_000)
    unpaced.adjust(T0, 5_000)
    expect(unpaced.wait(T0, false)).toBe(0)

    const fresh = new AdaptiveRate(60_000)
    fresh.adjust(T0, 5_000)
    expect(fresh.wait(T0, false)).toBe(0)

    const r = new AdaptiveRate(60_000)
    r.take(T0, 1_000)
    r.adjust(T0, 0)
    expect(r.wait(T0, false)).toBeCloseTo(1_000 * msPerToken, 9)
  })
})

describe('AdaptiveRate: ceiling changed by a reload', () => {
  test('a lower ceiling applies at once, a higher one is recovered toward', () => {
    const r = new AdaptiveRate(600)
    expect(r.rate(T0)).toBeCloseTo(582, 12)
    r.ceiling = 60
    expect(r.rate(T0)).toBeCloseTo(58.2, 12)
  })

  test('ceiling removed after a retreat with nothing learned: unpaced after the hold, never NaN', () => {
    const r = new AdaptiveRate(60)
    r.refused(T0, T0 - 1, 1_000) // halved to 29.1; L̂ still unknown
    r.ceiling = Infinity
    expect(r.rate(T0 + 5_000)).toBeCloseTo(29.1, 12) // the hold still holds
    expect(r.rate(T0 + 10_000)).toBe(Infinity)
    r.take(T0 + 10_000, 1)
    expect(r.wait(T0 + 10_000, false)).toBe(0)
    expect(r.state(T0 + 10_000)).toBe('retreating') // the episode was never ended by a success
    // Headers that state a limit later pace the key again.
    r.observed(T0 + 20_000, { limit: 120, remaining: 100, resetInMs: 1_000 })
    expect(r.rate(T0 + 20_000)).toBeCloseTo(116.4, 12)
    r.take(T0 + 20_000, 1)
    expect(r.wait(T0 + 20_000, false)).toBeCloseTo(spacing(116.4), 9)
  })
})

describe('AdaptiveRate: timer lateness', () => {
  test('slots taken a millisecond late keep the schedule: no rate is lost to wake-up lag', () => {
    const r = new AdaptiveRate(1_000) // target 970/min: one slot every 61.86 ms
    let now = T0
    for (let i = 0; i < 1_000; i++) {
      now += r.wait(now, true) + 1 // every wake-up comes 1 ms after its slot
      r.take(now, 1)
    }
    expect(now - T0).toBeCloseTo(999 * spacing(970) + 2, 6) // not 999 × (interval + 1 ms)
  })

  test('a slot taken long after it was due starts the schedule afresh: idle time is not banked', () => {
    const r = new AdaptiveRate(60)
    r.take(T0, 1)
    r.take(T0 + 5_000, 1)
    expect(r.wait(T0 + 5_000, false)).toBeCloseTo(spacing(58.2), 9)
  })
})

describe('AdaptiveRate: a faster return after an estimate taken at low demand', () => {
  /**
   * A key in front of a 60 s sliding-log upstream allowing `limit` a minute, 200 ms per answer.
   * For two minutes demand is `lowDemand` a minute with nothing waiting; one typed RPM 429 then
   * teaches L̂ ≈ that demand. `returnAfterMs` later, demand exceeds the limit (always waiting).
   * Returns when L̂ is back within 3 % of the limit (ms after demand returned) and the upstream
   * 429s from then on, over 20 simulated minutes.
   */
  function lowDemandThenBusy(limit: number, lowDemand: number, returnAfterMs: number): { backMs: number | null; refusals: number; estimate: number } {
    const r = new AdaptiveRate(null)
    const log: number[] = []
    const latency = 200
    const countIn = (t: number): number => log.filter((x) => x > t - 60_000).length
    let now = T0
    for (; now < T0 + 120_000; now += 60_000 / lowDemand) {
      r.wait(now, false)
      r.take(now, 1)
      log.push(now)
      r.accepted(now + latency, now, 1)
    }
    r.refused(now, now - latency, null)
    expect(r.estimateFromLowDemand).toBe(true)
    const busyFrom = now + returnAfterMs
    now = busyFrom
    let refusals = 0
    let backMs: number | null = null
    while (now < busyFrom + 20 * 60_000) {
      const w = r.wait(now, true)
      if (w > 0) {
        now += w
        continue
      }
      r.take(now, 1)
      if (countIn(now) < limit) {
        log.push(now)
        r.accepted(now + latency, now, 1)
      } else {
        refusals++
        r.refused(now + latency, now, null)
      }
      if (backMs === null && r.estimate >= 0.97 * limit) backMs = now - busyFrom
      now += 1
    }
    return { backMs, refusals, estimate: r.estimate }
  }

  // The old schedule (× 1.05 every 10 quiet minutes) needs 15 probes, 2.5 hours, from half the
  // limit; × 1.1 a minute after two quiet minutes (the issue's example) 8 probes, 9 minutes from
  // half, 14 from a third. × 1.2 a minute: 4 probes from half, 7 from 0.3, each 429-free until the
  // one that passes the limit, which re-measures L̂ from the full window it was refused at.
  test.each([
    { lowDemand: 100, returnAfterMs: 0, maxBackMin: 6 },
    { lowDemand: 100, returnAfterMs: 300_000, maxBackMin: 4 },
    { lowDemand: 60, returnAfterMs: 0, maxBackMin: 9 },
    { lowDemand: 160, returnAfterMs: 0, maxBackMin: 4 },
  ])('true limit 200, L̂ learned at $lowDemand/min, demand back $returnAfterMs ms later: within $maxBackMin min', ({ lowDemand, returnAfterMs, maxBackMin }) => {
    const { backMs, refusals, estimate } = lowDemandThenBusy(200, lowDemand, returnAfterMs)
    expect(backMs).not.toBeNull()
    expect(backMs!).toBeLessThanOrEqual(maxBackMin * 60_000)
    // One episode where the probe passes the limit; the re-measured estimate is the limit.
    expect(refusals).toBeLessThanOrEqual(6)
    expect(estimate).toBeGreaterThanOrEqual(0.97 * 200)
    expect(estimate).toBeLessThanOrEqual(1.1 * 200)
  })
})
