import { describe, expect, it } from 'vitest'
import { SlidingLog } from '../../../../src/simulator/limits/sliding-log.js'
import { FakeClock } from '../helpers.js'
import { limiterContract } from './limiter-contract.js'

limiterContract('SlidingLog', (limit, clock) => new SlidingLog(limit, { clock }))

describe('SlidingLog', () => {
  it('has no boundary burst: every unit is remembered for exactly 60 s', () => {
    const clock = new FakeClock(59_999)
    const log = new SlidingLog(3, { clock })
    for (let i = 0; i < 3; i++) log.take(1)
    clock.advance(1)
    expect(log.waitMs(1)).toBe(59_999)
    clock.advance(59_998)
    expect(log.waitMs(1)).toBe(1)
    clock.advance(1)
    expect(log.state().remaining).toBe(3)
  })

  it('waits for the oldest entries whose expiry frees enough units', () => {
    const clock = new FakeClock(0)
    const log = new SlidingLog(100, { clock })
    log.take(30)
    clock.advance(10_000)
    log.take(50)
    clock.advance(10_000)
    log.take(20)
    // 40 units need both the 30 (expires at 60 s) and the 50 (expires at 70 s).
    expect(log.waitMs(40)).toBe(70_000 - 20_000)
    expect(log.waitMs(25)).toBe(60_000 - 20_000)
    expect(log.state()).toEqual({ limit: 100, remaining: 0, resetMs: 60_000 })
  })

  it('keeps exact counts across compaction of a long log', () => {
    const clock = new FakeClock(0)
    const log = new SlidingLog(10_000, { clock })
    for (let i = 0; i < 5000; i++) {
      log.take(1)
      clock.advance(20)
    }
    // Now at 100 s: entries taken at or before 40 s have expired (2001 of them), 2999 remain.
    expect(log.state().remaining).toBe(10_000 - 2999)
    clock.advance(60_000)
    expect(log.state()).toEqual({ limit: 10_000, remaining: 10_000, resetMs: 0 })
  })
})
