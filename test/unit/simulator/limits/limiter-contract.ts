import { describe, expect, it } from 'vitest'
import type { RateLimiter } from '../../../../src/simulator/limits/types.js'
import { FakeClock } from '../helpers.js'

/** What every limiter promises; run by each algorithm's test file. */
export function limiterContract(name: string, make: (limit: number, clock: FakeClock) => RateLimiter): void {
  describe(`${name} (limiter contract)`, () => {
    it('starts full and admits exactly `limit` units', () => {
      const clock = new FakeClock(0)
      const l = make(5, clock)
      expect(l.state()).toEqual({ limit: 5, remaining: 5, resetMs: 0 })
      for (let i = 0; i < 5; i++) {
        expect(l.waitMs(1)).toBe(0)
        l.take(1)
      }
      expect(l.state().remaining).toBe(0)
      expect(l.waitMs(1)).toBeGreaterThan(0)
    })

    it('the wait it announces is exact: one ms earlier is refused, then admitted', () => {
      const clock = new FakeClock(0)
      const l = make(3, clock)
      for (let i = 0; i < 3; i++) l.take(1)
      clock.advance(7_000)
      const wait = l.waitMs(1)
      expect(wait).toBeGreaterThan(0)
      clock.advance(wait - 1)
      expect(l.waitMs(1)).toBeGreaterThan(0)
      clock.advance(1)
      expect(l.waitMs(1)).toBe(0)
    })

    it('checking does not consume', () => {
      const clock = new FakeClock(0)
      const l = make(2, clock)
      for (let i = 0; i < 10; i++) l.waitMs(1)
      expect(l.state().remaining).toBe(2)
    })

    it('a cost above the whole limit asks for a full window', () => {
      const l = make(100, new FakeClock(0))
      expect(l.waitMs(101)).toBe(60_000)
    })

    it('weighs costs (tokens)', () => {
      const clock = new FakeClock(0)
      const l = make(1000, clock)
      l.take(600)
      expect(l.state().remaining).toBe(400)
      expect(l.waitMs(400)).toBe(0)
      expect(l.waitMs(401)).toBeGreaterThan(0)
    })

    it('is full again a window after the last take', () => {
      const clock = new FakeClock(0)
      const l = make(4, clock)
      for (let i = 0; i < 4; i++) l.take(1)
      expect(l.state().resetMs).toBeGreaterThan(0)
      expect(l.state().resetMs).toBeLessThanOrEqual(60_000)
      clock.advance(60_000)
      expect(l.state()).toEqual({ limit: 4, remaining: 4, resetMs: 0 })
    })
  })
}
