import { describe, expect, it } from 'vitest'
import { TokenBucket } from '../../../../src/simulator/limits/token-bucket.js'
import { FakeClock } from '../helpers.js'
import { limiterContract } from './limiter-contract.js'

limiterContract('TokenBucket', (limit, clock) => new TokenBucket(limit, { clock }))

describe('TokenBucket', () => {
  it('refills continuously: 60 rpm gives one request back every second', () => {
    const clock = new FakeClock(0)
    const b = new TokenBucket(60, { clock })
    for (let i = 0; i < 60; i++) b.take(1)
    expect(b.waitMs(1)).toBe(1000)
    clock.advance(1000)
    expect(b.state().remaining).toBe(1)
    expect(b.waitMs(2)).toBe(1000)
  })

  it('reports the time until full as reset', () => {
    const clock = new FakeClock(0)
    const b = new TokenBucket(60, { clock })
    b.take(6)
    expect(b.state()).toEqual({ limit: 60, remaining: 54, resetMs: 6000 })
    clock.advance(3000)
    expect(b.state()).toEqual({ limit: 60, remaining: 57, resetMs: 3000 })
  })

  it('never holds more than its capacity', () => {
    const clock = new FakeClock(0)
    const b = new TokenBucket(10, { clock })
    clock.advance(10 * 60_000)
    expect(b.state().remaining).toBe(10)
  })

  it('stays exact with limits that do not divide the window', () => {
    const clock = new FakeClock(0)
    const b = new TokenBucket(7, { clock })
    for (let i = 0; i < 7; i++) b.take(1)
    const wait = b.waitMs(1)
    expect(wait).toBe(Math.ceil(60_000 / 7))
    clock.advance(wait)
    expect(b.waitMs(1)).toBe(0)
  })
})
