import { describe, expect, it } from 'vitest'
import { FixedWindow } from '../../../../src/simulator/limits/fixed-window.js'
import { FakeClock } from '../helpers.js'
import { limiterContract } from './limiter-contract.js'

limiterContract('FixedWindow', (limit, clock) => new FixedWindow(limit, { clock }))

describe('FixedWindow', () => {
  it('windows are aligned to clock minutes, and the wait runs to the next boundary', () => {
    const clock = new FakeClock(120_000 + 45_000)
    const w = new FixedWindow(2, { clock })
    w.take(1)
    w.take(1)
    expect(w.waitMs(1)).toBe(15_000)
    expect(w.state()).toEqual({ limit: 2, remaining: 0, resetMs: 15_000 })
  })

  it('lets a burst straddling the boundary through twice, as real fixed windows do', () => {
    const clock = new FakeClock(59_999)
    const w = new FixedWindow(3, { clock })
    for (let i = 0; i < 3; i++) w.take(1)
    expect(w.waitMs(1)).toBe(1)
    clock.advance(1)
    for (let i = 0; i < 3; i++) {
      expect(w.waitMs(1)).toBe(0)
      w.take(1)
    }
    expect(w.waitMs(1)).toBe(60_000)
  })
})
