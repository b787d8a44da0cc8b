import { describe, expect, it } from 'vitest'
import { PeakEwma } from '../../../../src/core/balance/index.js'

describe('PeakEwma', () => {
  it('is null before the first sample, then the sample', () => {
    const e = new PeakEwma(10_000)
    expect(e.value).toBeNull()
    expect(e.observe(300, 1_000)).toBe(300)
    expect(e.value).toBe(300)
  })

  it('jumps to a sample above the estimate at once', () => {
    const e = new PeakEwma(10_000)
    e.observe(200, 0)
    expect(e.observe(2_000, 1)).toBe(2_000)
  })

  it('decays towards a lower sample by 1 − e^(−Δt/τ)', () => {
    const cases: { dt: number, want: number }[] = [
      { dt: 0, want: 1_000 },
      { dt: 10_000, want: 1_000 * Math.exp(-1) + 100 * (1 - Math.exp(-1)) }, // ≈ 431
      { dt: 20_000, want: 1_000 * Math.exp(-2) + 100 * (1 - Math.exp(-2)) }, // ≈ 222
      { dt: 1_000_000, want: 100 },
    ]
    for (const c of cases) {
      const e = new PeakEwma(10_000)
      e.observe(1_000, 5_000)
      expect(e.observe(100, 5_000 + c.dt), `Δt = ${c.dt}`).toBeCloseTo(c.want, 6)
    }
  })

  it('is slow to forget a peak under frequent fast samples', () => {
    const e = new PeakEwma(10_000)
    e.observe(5_000, 0)
    // Ten fast answers 100 ms apart (1 s in all) take only ≈ 10 % of the way back down.
    let v = 0
    for (let t = 100; t <= 1_000; t += 100) v = e.observe(100, t)
    expect(v).toBeCloseTo(100 + 4_900 * Math.exp(-0.1), 6)
    // A new peak is taken whole even so.
    expect(e.observe(6_000, 1_100)).toBe(6_000)
  })

  it('counts a sample from the past as simultaneous and does not move its clock back', () => {
    const e = new PeakEwma(10_000)
    e.observe(1_000, 10_000)
    expect(e.observe(100, 9_000)).toBe(1_000)
    // Δt is measured from 10 000, not from 9 000.
    expect(e.observe(100, 20_000)).toBeCloseTo(1_000 * Math.exp(-1) + 100 * (1 - Math.exp(-1)), 6)
  })

  it('reset() forgets the estimate', () => {
    const e = new PeakEwma()
    e.observe(700, 0)
    e.reset()
    expect(e.value).toBeNull()
    expect(e.observe(50, 60_000)).toBe(50)
  })

  it('refuses a non-positive time constant', () => {
    expect(() => new PeakEwma(0)).toThrow(RangeError)
  })
})
