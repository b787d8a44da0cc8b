import { describe, expect, it } from 'vitest'
import { ConcurrencyLimit, concurrencyDefaults, nothingLearned } from '../../../../src/core/limit/concurrency-limit.js'

const t0 = Date.UTC(2026, 10, 22, 12, 0, 0)
const sec = 1_000
const min = 60 * sec

function adaptive(learnedLimit: number | null = null, acceptedLevel: number | null = null): ConcurrencyLimit {
  return new ConcurrencyLimit({ id: 'sim~k1', provider: 'sim', key: 'k1', fixed: null, learned: { ...nothingLearned, learnedLimit, acceptedLevel } })
}

/** Successes at full saturation, one every `everyMs`, until `untilMs`. */
function saturatedSuccesses(l: ConcurrencyLimit, from: number, untilMs: number, everyMs: number): number {
  let now = from
  for (; now < untilMs; now += everyMs) l.succeeded(now, l.effective)
  return now
}

describe('ConcurrencyLimit: permits', () => {
  it('starts adaptive at 8 and hands out exactly floor(L) permits', () => {
    const l = adaptive()
    expect(l.adaptive).toBe(true)
    expect(l.effective).toBe(concurrencyDefaults.initial)
    const permits = []
    for (let i = 0; i < 8; i++) {
      expect(l.hasPermit).toBe(true)
      permits.push(l.acquire())
    }
    expect(l.hasPermit).toBe(false)
    permits[0]?.release('ignore', t0)
    expect(l.hasPermit).toBe(true)
  })

  it('a permit released twice frees one slot, and the second release is a visible no-op', () => {
    const l = adaptive()
    const a = l.acquire()
    l.acquire()
    expect(a.release('ignore', t0)).toBe(true)
    expect(a.release('success', t0)).toBe(false)
    expect(l.inflight).toBe(1)
    expect(l.duplicateReleases).toBe(1)
    expect(l.learnedExact).toBe(concurrencyDefaults.initial)
  })

  it('only a successful release is what the law hears', () => {
    const l = adaptive()
    const held = Array.from({ length: 8 }, () => l.acquire())
    held[0]?.release('ignore', t0)
    held[1]?.release('dropped', t0)
    expect(l.learnedExact).toBe(concurrencyDefaults.initial)
    expect(l.acceptedRecently(t0)).toBe(0)
    const again = Array.from({ length: 2 }, () => l.acquire()) // saturated again: 8 in flight
    again[1]?.release('success', t0)
    expect(l.learnedExact).toBeGreaterThan(concurrencyDefaults.initial)
    expect(l.acceptedRecently(t0)).toBe(8)
  })

  it('starts from the persisted value', () => {
    expect(adaptive(17.4).effective).toBe(17)
  })

  it('clamps persisted values to 1…200', () => {
    expect(adaptive(0.2).effective).toBe(1)
    expect(adaptive(1e6).effective).toBe(200)
  })
})

describe('ConcurrencyLimit: holding back after a concurrency 429', () => {
  it('wait() is 0 with a free permit and Infinity with none', () => {
    const l = new ConcurrencyLimit({ id: 'sim~k1', provider: 'sim', key: 'k1', fixed: 1 })
    expect(l.wait(0)).toBe(0)
    l.acquire()
    expect(l.wait(0)).toBe(Infinity)
  })

  it('after a refusal, nothing goes until another request of ours ends, not when the refused one does', () => {
    const l = new ConcurrencyLimit({ id: 'sim~k1', provider: 'sim', key: 'k1', fixed: 4 })
    const running = l.acquire() // still running upstream
    const refused = l.acquire() // the one refused
    l.holdBack(1_000)
    refused.release('dropped', t0) // the refused one settles: no upstream slot was freed
    expect(l.wait(10)).toBe(990)
    running.release('success', t0) // the running one ends: a slot upstream is free
    expect(l.wait(10)).toBe(0)
  })

  it('with nothing of ours in flight, the hold ends with its time', () => {
    const l = new ConcurrencyLimit({ id: 'sim~k1', provider: 'sim', key: 'k1', fixed: 4 })
    const refused = l.acquire()
    l.holdBack(500)
    refused.release('dropped', t0)
    expect(l.wait(499)).toBe(1)
    expect(l.wait(500)).toBe(0)
  })

  it('a burst of refusals needs each refused release plus one real one', () => {
    const l = new ConcurrencyLimit({ id: 'sim~k1', provider: 'sim', key: 'k1', fixed: 10 })
    const held = Array.from({ length: 4 }, () => l.acquire())
    l.holdBack(1_000)
    l.holdBack(1_000)
    held[0]?.release('dropped', t0)
    held[1]?.release('dropped', t0)
    expect(l.wait(0)).toBe(1_000)
    held[2]?.release('success', t0)
    expect(l.wait(0)).toBe(0)
  })
})

describe('ConcurrencyLimit: learning from concurrency 429s', () => {
  it('ten 429s in the same 100 ms at in-flight 11 lower L once, to exactly 9', () => {
    const l = adaptive(20)
    for (let i = 0; i < 10; i++) l.refused(t0 + i * 10, 'concurrent', 11)
    expect(l.acceptedLevel).toBe(10)
    expect(l.learnedExact).toBe(9)
    expect(l.effective).toBe(9)
    expect(l.concurrent429Count).toBe(10)
    expect(l.history).toHaveLength(1)
    expect(l.history[0]).toMatchObject({ old_limit: 20, new_limit: 9, reason: 'concurrent_429', inflight: 11 })
  })

  it('L takes the lowest level of a burst, whatever order its 429s arrive in; Ĉ the latest', () => {
    const l = adaptive()
    l.refused(t0, 'concurrent', 7)
    l.refused(t0 + 5, 'concurrent', 5)
    l.refused(t0 + 9, 'concurrent', 8)
    expect(l.learnedExact).toBeCloseTo(3.6, 10)
    expect(l.effective).toBe(3)
    expect(l.acceptedLevel).toBe(7)
  })

  it('an out-of-order refusal at a low level does not pin the key: L grows back to the latest Ĉ', () => {
    const l = adaptive()
    l.refused(t0, 'concurrent', 2) // overtaken on its way: looks like a cap of 1
    l.refused(t0 + 3, 'concurrent', 4) // the real cap is 3
    expect(l.effective).toBe(1)
    saturatedSuccesses(l, t0 + 5 * sec, t0 + 60 * sec, 500)
    expect(l.effective).toBe(3)
  })

  it('never goes below 1', () => {
    const l = adaptive()
    l.refused(t0, 'concurrent', 1)
    expect(l.effective).toBe(1)
    expect(l.acceptedLevel).toBe(1)
  })

  it('counts rate 429s without touching the limit', () => {
    const l = adaptive(20)
    l.refused(t0, 'rpm', 15)
    l.refused(t0, 'tpm', 15)
    l.refused(t0, 'unknown', 15)
    expect(l.effective).toBe(20)
    expect(l.rpm429Count).toBe(1)
    expect(l.tpm429Count).toBe(1)
    expect(l.concurrent429Count).toBe(0)
    expect(l.last429Type).toBe('unknown')
    expect(l.last429At).toBe(t0)
    expect(l.history).toHaveLength(0)
  })

  it('a fixed limit is never changed, but its 429s are counted', () => {
    const l = new ConcurrencyLimit({ id: 'sim~k1', provider: 'sim', key: 'k1', fixed: 4 })
    l.refused(t0, 'concurrent', 5)
    saturatedSuccesses(l, t0 + 20 * min, t0 + 40 * min, sec)
    expect(l.effective).toBe(4)
    expect(l.adaptive).toBe(false)
    expect(l.concurrent429Count).toBe(1)
    expect(l.history).toHaveLength(0)
  })
})

describe('ConcurrencyLimit: growth', () => {
  it('once Ĉ is known, grows by 1/L per saturated success: from 8 to 9 after nine (each step is 1/L of the L it starts from)', () => {
    const l = adaptive(8, 20)
    let successes = 0
    while (l.effective === 8) {
      l.succeeded(t0 + successes * sec, 8)
      successes++
    }
    expect(successes).toBe(9)
    expect(l.effective).toBe(9)
    expect(l.history.at(-1)).toMatchObject({ old_limit: 8, new_limit: 9, reason: 'high_utilization' })
  })

  it('does not grow while below 80 % of the limit in flight', () => {
    const l = adaptive(10, 20)
    for (let i = 0; i < 100; i++) l.succeeded(t0 + i * sec, 7)
    expect(l.learnedExact).toBe(10)
    l.succeeded(t0 + 101 * sec, 8)
    expect(l.learnedExact).toBeCloseTo(10.1, 10)
  })

  it('holds for 5 s after a concurrency 429; a rate 429 does not hold it', () => {
    const l = adaptive(20)
    l.refused(t0, 'concurrent', 11) // L = 9, Ĉ = 10
    l.succeeded(t0 + 4_999, 9)
    expect(l.learnedExact).toBe(9)
    l.refused(t0 + 5_000, 'rpm', 3)
    l.succeeded(t0 + 5_001, 9)
    expect(l.learnedExact).toBeCloseTo(9 + 1 / 9, 10)
    expect(l.last429Type).toBe('rpm')
  })

  it('rate 429s do not keep a key from probing: only concurrency 429s count as noise', () => {
    const l = adaptive(20)
    l.refused(t0, 'concurrent', 11)
    saturatedSuccesses(l, t0 + 5 * sec, t0 + 20 * sec, 100)
    expect(l.learnedExact).toBe(10)
    for (let t = t0 + 30 * sec; t < t0 + 10 * min; t += 30 * sec) l.refused(t, 'unknown', 9)
    saturatedSuccesses(l, t0 + 10 * min, t0 + 10 * min + 100, 10)
    expect(l.acceptedLevel).toBe(11)
  })

  it('a restart keeps the hold when the last stored 429 was a concurrency 429', () => {
    const a = adaptive(20)
    a.refused(t0, 'concurrent', 11)
    const b = adaptive()
    b.restore(a.learnedState())
    b.succeeded(t0 + 1_000, 9)
    expect(b.learnedExact).toBe(9)
  })

  it('is capped at Ĉ until two quiet minutes pass', () => {
    const l = adaptive(20)
    l.refused(t0, 'concurrent', 11)
    saturatedSuccesses(l, t0 + 5 * sec, t0 + 2 * min, 100)
    expect(l.learnedExact).toBe(10)
    expect(l.acceptedLevel).toBe(10)
  })

  it('after two quiet minutes probes Ĉ up by max(1, 10 %) at most once a minute; two probes taken in a row start slow start again', () => {
    const l = adaptive(20)
    l.refused(t0, 'concurrent', 11)
    saturatedSuccesses(l, t0 + 5 * sec, t0 + 2 * min, 100)
    expect(l.acceptedLevel).toBe(10)
    // The first saturated success at 2 min raises Ĉ to 11; then nothing more for a minute.
    saturatedSuccesses(l, t0 + 2 * min, t0 + 3 * min, 100)
    expect(l.acceptedLevel).toBe(11)
    expect(l.effective).toBe(11)
    expect(l.slowStart).toBe(false)
    // The second probe (11 → 12) is taken too: the cap has moved, so L grows × 1.5 a round again.
    let now = t0 + 3 * min
    for (; !l.slowStart && now < t0 + 4 * min; now += 100) l.succeeded(now, l.effective)
    expect(now).toBeLessThan(t0 + 3 * min + 5 * sec)
    expect(l.acceptedLevel).toBe(null)
    const probes = l.history.filter((h) => h.reason === 'probe_increase')
    expect(probes.map((p) => [p.old_limit, p.new_limit])).toEqual([[10, 11], [11, 12]])
    expect(l.history.at(-1)?.reason).toBe('slow_start')
    saturatedSuccesses(l, now, now + 5 * sec, 10)
    expect(l.history.at(-1)).toMatchObject({ new_limit: 200, reason: 'slow_start' })
    expect(l.effective).toBe(200)
  })

  it('probes by 10 % once Ĉ is 20 or more', () => {
    const l = adaptive(60, 60)
    l.refused(t0, 'concurrent', 61) // Ĉ = 60, L = 54
    saturatedSuccesses(l, t0 + 5 * sec, t0 + 2 * min + 1, 50)
    expect(l.acceptedLevel).toBe(66)
  })

  it('a probe the upstream refuses costs one step, not 10 %; the quiet time before the next doubles, up to ten minutes', () => {
    const l = adaptive(40, 40)
    l.refused(t0, 'concurrent', 41) // capacity 40 (nothing had succeeded above it yet): a plain cut
    let now = saturatedSuccesses(l, t0 + 5 * sec, t0 + 2 * min, 100)
    expect(l.effective).toBe(40)
    const probeTimes: number[] = []
    const end = t0 + 40 * min
    while (now < end) {
      const before = l.acceptedLevel
      l.succeeded(now, l.effective)
      if (l.acceptedLevel !== before && l.acceptedLevel! > 40) probeTimes.push(now)
      // The upstream takes 40 and refuses the 41st.
      if (l.effective > 40) l.refused(now, 'concurrent', 41)
      expect(l.effective).toBeGreaterThanOrEqual(40)
      expect(l.effective).toBeLessThanOrEqual(41)
      now += 500
    }
    const gaps = probeTimes.slice(1).map((t, i) => Math.round((t - probeTimes[i]!) / min))
    expect(gaps).toEqual([4, 8, 10, 10])
    expect(l.history.filter((h) => h.reason === 'overshoot_429').length).toBe(5)
  })

  it('a cap of 2 at low demand: L settles on the cap; a probe demand never tests is given up a minute later', () => {
    // Three clients against a cap of 2: the first burst's third request is refused.
    const l = adaptive()
    l.refused(t0, 'concurrent', 3)
    let now = t0 + 5 * sec
    // From then on demand never has more than 2 in flight: a success at level 2 every 4 s.
    const untilL3 = t0 + 10 * min
    const effective: number[] = []
    for (; now < untilL3; now += 4 * sec) {
      l.succeeded(now, 2, 2)
      effective.push(l.effective)
    }
    expect(l.learnedExact).toBe(2)
    expect(l.acceptedLevel).toBe(2)
    const reasons = l.history.map((h) => h.reason)
    // Successes at 2 count as saturated at L = 2.x and took L to the probed 3, but nothing was
    // granted at 3: the probe was not taken (no slow start), and was given up after a minute.
    expect(reasons.filter((r) => r === 'probe_untested').length).toBe(reasons.filter((r) => r === 'probe_increase').length)
    expect(reasons).toContain('probe_untested')
    expect(reasons).not.toContain('slow_start')
    expect(l.slowStart).toBe(false)
    // Above the cap for at most a minute after each probe, and the probes back off (2, then 4 min, then 8).
    const above = effective.filter((e) => e > 2).length * 4 * sec
    expect(above).toBeLessThanOrEqual(reasons.filter((r) => r === 'probe_increase').length * min)
    expect(reasons.filter((r) => r === 'probe_increase').length).toBeLessThanOrEqual(3)
  })

  it('a probe is taken only by a request granted at the probed level', () => {
    const l = adaptive(10, 10)
    l.refused(t0, 'concurrent', 11) // Ĉ 10, L 9
    let now = saturatedSuccesses(l, t0 + 5 * sec, t0 + 2 * min, 100)
    l.succeeded(now, 10, 10) // probe: Ĉ 11
    expect(l.acceptedLevel).toBe(11)
    for (let i = 0; i < 20 && l.effective < 11; i++) l.succeeded((now += 100), 10, 10)
    expect(l.effective).toBe(11)
    // Levels up to 10 do not take it; one at 11 does, and the next probe comes a minute later.
    l.succeeded((now += 100), 10, 10)
    expect(l.history.at(-1)?.reason).not.toBe('probe_untested')
    l.succeeded((now += 100), 11, 11)
    saturatedSuccesses(l, now + 100, now + 61 * sec, 100)
    const probes = l.history.filter((h) => h.reason === 'probe_increase')
    expect(probes.map((p) => [p.old_limit, p.new_limit])).toEqual([[10, 11], [11, 12]])
    expect(l.history.map((h) => h.reason)).not.toContain('probe_untested')
  })

  it('never grows above 200', () => {
    const l = adaptive(199.99)
    saturatedSuccesses(l, t0, t0 + 10 * sec, 10)
    expect(l.effective).toBe(200)
    expect(l.learnedExact).toBe(200)
  })

  it('recovers from a cap that halved and came back, with probes', () => {
    // The upstream accepted 40, then 20, then 40 again: the law finds each level.
    const l = adaptive(40)
    l.refused(t0, 'concurrent', 41)
    expect(l.effective).toBe(36)
    let now = saturatedSuccesses(l, t0 + 5 * sec, t0 + 2 * min, 50)
    expect(l.effective).toBe(40)
    l.refused(now, 'concurrent', 21)
    expect(l.effective).toBe(18)
    now = saturatedSuccesses(l, now + 5 * sec, now + 60 * sec, 50)
    expect(l.effective).toBe(20)
    // The cap is back at 40 and nothing is refused any more: two probes a minute apart, then slow start.
    const back = now
    now = saturatedSuccesses(l, now, now + 5 * min, 50)
    expect(l.effective).toBeGreaterThanOrEqual(38)
    expect(now - back).toBeLessThanOrEqual(10 * min)
  })
})

describe('ConcurrencyLimit: what the upstream recently took at once', () => {
  it('remembers the highest level a success was sent at, for a minute', () => {
    const l = adaptive()
    expect(l.acceptedRecently(t0)).toBe(0)
    l.noteAccepted(t0, 3)
    l.noteAccepted(t0 + sec, 5)
    l.noteAccepted(t0 + 2 * sec, 2)
    expect(l.acceptedRecently(t0 + 2 * sec)).toBe(5)
    expect(l.acceptedRecently(t0 + 2 * sec + min)).toBe(5)
    expect(l.acceptedRecently(t0 + 2 * sec + min + 1)).toBe(0)
    // After a quiet minute the level starts again from what succeeds next.
    l.noteAccepted(t0 + 5 * min, 2)
    expect(l.acceptedRecently(t0 + 5 * min)).toBe(2)
  })
})

describe('ConcurrencyLimit: history and admin', () => {
  it('keeps exactly the last 20 adjustments', () => {
    const l = adaptive(8)
    saturatedSuccesses(l, t0, t0 + 60 * sec, 10) // grows through many whole numbers
    expect(l.history.length).toBe(20)
    const last = l.history.at(-1)!
    expect(last.new_limit).toBe(l.effective)
    expect(l.history[0]!.new_limit).toBe(l.effective - 19)
  })

  it('resetLearning forgets limit, counters and history but keeps the mode', () => {
    const l = adaptive(30)
    l.refused(t0, 'concurrent', 11)
    l.refused(t0, 'rpm', 11)
    l.setFixed(5)
    l.resetLearning()
    expect(l.adaptive).toBe(false)
    expect(l.effective).toBe(5)
    l.setFixed(null)
    expect(l.effective).toBe(8)
    expect(l.acceptedLevel).toBeNull()
    expect([l.concurrent429Count, l.rpm429Count, l.tpm429Count]).toEqual([0, 0, 0])
    expect(l.last429At).toBeNull()
    expect(l.history).toEqual([])
  })

  it('learnedState round-trips through restore', () => {
    const a = adaptive(20)
    a.refused(t0, 'concurrent', 11)
    a.refused(t0 + 1, 'tpm', 3)
    const b = adaptive()
    b.restore(a.learnedState())
    expect(b.learnedState()).toEqual(a.learnedState())
    expect(b.effective).toBe(9)
  })

  it('every change worth storing bumps the version and tells the listener', () => {
    const l = adaptive()
    let told = 0
    l.onChange = () => told++
    const v = l.version
    l.acquire().release('ignore', t0)
    expect(l.version).toBe(v)
    l.refused(t0, 'rpm', 2)
    l.setFixed(3)
    l.resetLearning()
    expect(l.version).toBe(v + 3)
    expect(told).toBe(3)
  })
})
