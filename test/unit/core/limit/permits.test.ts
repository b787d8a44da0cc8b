import { describe, expect, it } from 'vitest'
import { PermitCounter, type PermitOutcome } from '../../../../src/core/limit/permits.js'

describe('PermitCounter', () => {
  it('grants permits with their level and frees a slot once per permit', () => {
    const c = new PermitCounter()
    const a = c.acquire()
    const b = c.acquire()
    expect([a.level, b.level, c.inflight]).toEqual([1, 2, 2])
    expect(c.wait(0, 2)).toBe(Infinity)
    expect(a.release('success', 0)).toBe(true)
    expect(a.released).toBe(true)
    expect(c.wait(0, 2)).toBe(0)
    expect(a.release('ignore', 0)).toBe(false)
    expect(c.inflight).toBe(1)
    expect(c.duplicateReleases).toBe(1)
  })

  it('tells the listener each outcome once, with the permit still counted', () => {
    const c = new PermitCounter()
    const heard: [PermitOutcome, number, number][] = []
    const listener = (p: { level: number }, outcome: PermitOutcome, at: number) => heard.push([outcome, at, c.inflight])
    const a = c.acquire(listener)
    const b = c.acquire(listener)
    b.release('dropped', 5)
    a.release('success', 7)
    a.release('success', 9)
    expect(heard).toEqual([['dropped', 5, 2], ['success', 7, 1]])
  })

  it('a hold after a concurrency 429 lasts until a real slot frees, or until its time with none of ours in flight', () => {
    const c = new PermitCounter()
    const running = c.acquire()
    const refused = c.acquire()
    c.holdBack(1_000)
    refused.release('dropped', 0)
    expect(c.wait(10, 4)).toBe(990)
    running.release('success', 0)
    expect(c.wait(10, 4)).toBe(0)
  })
})
