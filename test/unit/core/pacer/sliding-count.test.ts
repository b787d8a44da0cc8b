import { describe, expect, test } from 'vitest'
import { SlidingCount } from '../../../../src/core/pacer/sliding-count.js'

describe('SlidingCount', () => {
  test('empty counts 0', () => {
    expect(new SlidingCount().sum(0)).toBe(0)
    expect(new SlidingCount().sum(123_456_789)).toBe(0)
  })

  test('amounts in the same second add up, fractions included', () => {
    const c = new SlidingCount()
    c.add(5_000, 1)
    c.add(5_500, 2.5)
    c.add(5_999, 0.5)
    expect(c.sum(5_999)).toBe(4)
  })

  test('sums exactly the last 60 one-second buckets, the current second included', () => {
    const c = new SlidingCount()
    // One unit at the start of each second 0…59, and 1000 in second 60.
    for (let s = 0; s < 60; s++) c.add(s * 1000, 1)
    expect(c.sum(59_999)).toBe(60) // seconds 0…59
    c.add(60_000, 1000)
    expect(c.sum(60_000)).toBe(1059) // seconds 1…60: second 0 has left the window
    expect(c.sum(60_999)).toBe(1059)
    expect(c.sum(61_000)).toBe(1058) // seconds 2…61
    expect(c.sum(119_000)).toBe(1000) // seconds 60…119: only second 60 is left
    expect(c.sum(119_999)).toBe(1000)
    expect(c.sum(120_000)).toBe(0)
  })

  test('a bucket reused after the window has passed starts from zero', () => {
    const c = new SlidingCount()
    c.add(3_000, 7) // bucket 3
    c.add(63_000, 2) // bucket 3 again, 60 s later: the 7 is gone
    expect(c.sum(63_000)).toBe(2)
    c.add(63_400, 1)
    expect(c.sum(63_999)).toBe(3)
  })

  test('gaps longer than 60 s forget everything before them', () => {
    const c = new SlidingCount()
    for (let s = 0; s < 60; s++) c.add(s * 1000 + 250, 2)
    expect(c.sum(59_250)).toBe(120)
    // 10 minutes of silence, then two adds 61 s apart: neither old data nor the first add survive.
    expect(c.sum(659_000)).toBe(0)
    c.add(659_000, 5)
    expect(c.sum(659_000)).toBe(5)
    c.add(720_000, 1)
    expect(c.sum(720_000)).toBe(1)
    // A gap of hours, landing on the same bucket index as stale data.
    c.add(720_000 + 3_600_000, 4)
    expect(c.sum(720_000 + 3_600_000)).toBe(4)
  })

  test('a steady stream of 5 per second sums to 300 once the window is full', () => {
    const c = new SlidingCount()
    for (let t = 0; t < 300_000; t += 200) {
      c.add(t, 1)
      if (t >= 59_800) expect(c.sum(t)).toBe(300 - 4 + (t % 1000) / 200)
    }
  })
})
