import { describe, expect, test } from 'vitest'
import { AcceptedBySend } from '../../../../src/core/pacer/accepted-by-send.js'

describe('AcceptedBySend', () => {
  test('counts what was sent within a span, only quarter-seconds wholly inside it', () => {
    const c = new AcceptedBySend()
    for (let t = 0; t < 10_000; t += 100) c.add(1_000_000 + t, 1)
    expect(c.between(1_000_000, 1_010_000)).toBe(100)
    expect(c.between(1_002_000, 1_004_000)).toBe(20)
    // [2.1 s, 4.1 s]: the quarter-seconds from 2.25 to 4.0 s are inside, 2.0–2.25 and 4.0–4.25 are not.
    expect(c.between(1_002_100, 1_004_100)).toBe(17)
    expect(c.between(1_020_000, 1_030_000)).toBe(0)
  })

  test('answers arrive out of order; what is older than 150 s is gone', () => {
    const c = new AcceptedBySend()
    c.add(5_000, 2)
    c.add(1_000, 1)
    c.add(5_100, 3)
    expect(c.between(0, 10_000)).toBe(6)
    // 150 s later the same slots hold new quarter-seconds; the old ones no longer count.
    c.add(155_000, 4)
    expect(c.between(0, 200_000)).toBe(4)
    // An answer for a request sent before the slot was reused is dropped.
    c.add(5_000, 9)
    expect(c.between(0, 200_000)).toBe(4)
  })
})
