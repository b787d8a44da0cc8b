import { describe, expect, it } from 'vitest'
import { PoolQueue } from '../../../../src/core/queue/index.js'
import { VtcBand } from '../../../../src/core/queue/vtc.js'
import { item, type Item } from './helpers.js'

function popAll(q: PoolQueue<Item>, n: number): Item[] {
  const out: Item[] = []
  for (let i = 0; i < n; i++) {
    const e = q.pop()
    if (e === undefined) break
    out.push(e)
  }
  return out
}

describe('VTC across consumers in one priority', () => {
  it('does not make a light consumer wait behind a heavy one\'s backlog', () => {
    const q = new PoolQueue<Item>()
    for (let i = 0; i < 1000; i++) q.push(item(2, 'A', 1000))
    const b = Array.from({ length: 100 }, () => item(2, 'B', 1000))
    for (const e of b) q.push(e)
    const order = popAll(q, 1100)
    b.forEach((e, k) => expect(order.indexOf(e) + 1, `B's entry ${k + 1}`).toBeLessThanOrEqual(2 * (k + 1)))
  })

  it('serves a light consumer within two pops while a heavy one offers ten times as much', () => {
    const q = new PoolQueue<Item>()
    let pops = 0
    const pushedAt = new Map<Item, number>()
    let worst = 0
    for (let step = 0; step < 500; step++) {
      for (let i = 0; i < 10; i++) q.push(item(2, 'A', 1000))
      const b = item(2, 'B', 1000)
      q.push(b)
      pushedAt.set(b, pops)
      for (let i = 0; i < 3; i++) {
        const e = q.pop()
        pops++
        const at = e === undefined ? undefined : pushedAt.get(e)
        if (at !== undefined) worst = Math.max(worst, pops - at)
      }
    }
    expect(worst).toBeLessThanOrEqual(2)
    expect(q.countFor('B')).toBe(0)
    expect(q.countFor('A')).toBe(500 * 10 - 500 * 2)
  })

  const weighted = [
    { weights: [2, 1], want: [2 / 3, 1 / 3] },
    { weights: [1, 1], want: [1 / 2, 1 / 2] },
    { weights: [3, 1], want: [3 / 4, 1 / 4] },
  ]
  for (const c of weighted) {
    it(`serves weights ${c.weights.join(':')} in proportion`, () => {
      const q = new PoolQueue<Item>()
      for (let i = 0; i < 3000; i++) {
        q.push(item(1, 'A', 500, c.weights[0]))
        q.push(item(1, 'B', 500, c.weights[1]))
      }
      const order = popAll(q, 3000)
      const a = order.filter((e) => e.consumer === 'A').length
      expect(Math.abs(a / 3000 - (c.want[0] ?? 0))).toBeLessThanOrEqual(0.005)
    })
  }

  it('shares cost, not requests: the served-cost gap stays within two of the largest requests', () => {
    const q = new PoolQueue<Item>()
    for (let i = 0; i < 2000; i++) {
      q.push(item(2, 'big', 8000))
      q.push(item(2, 'small', 1000))
    }
    const served: Record<string, number> = { big: 0, small: 0 }
    for (const e of popAll(q, 2000)) {
      served[e.consumer] = (served[e.consumer] ?? 0) + e.cost
      expect(Math.abs((served.big ?? 0) - (served.small ?? 0))).toBeLessThanOrEqual(2 * 8000)
    }
  })

  it('lifts a consumer that was idle, so it cannot monopolise when it returns', () => {
    const q = new PoolQueue<Item>()
    for (let i = 0; i < 2000; i++) q.push(item(2, 'A', 1000))
    q.push(item(2, 'B', 1000))
    popAll(q, 1000) // B served once early, then idle while A is served 999 times
    for (let i = 0; i < 100; i++) q.push(item(2, 'B', 1000))
    const next = popAll(q, 40)
    const b = next.filter((e) => e.consumer === 'B').length
    expect(b).toBeGreaterThanOrEqual(19)
    expect(b).toBeLessThanOrEqual(21)
  })

  it('remembers surplus service of a consumer that went idle above the least-served', () => {
    const q = new PoolQueue<Item>()
    for (let i = 0; i < 100; i++) q.push(item(2, 'A', 1000))
    q.push(item(2, 'B', 10_000))
    expect(popAll(q, 2).map((e) => e.consumer)).toEqual(['A', 'B']) // A at 1000, B at 10 000
    const back = item(2, 'B', 10_000)
    q.push(back)
    const order = popAll(q, 20)
    // A must catch up by 9000 (nine pops) before B's surplus is spent.
    expect(order.indexOf(back)).toBeGreaterThanOrEqual(9)
  })

  it('reconciles a counter with adjustCounter, divided by weight', () => {
    const q = new PoolQueue<Item>()
    for (let i = 0; i < 20; i++) {
      q.push(item(0, 'A', 1000, 2))
      q.push(item(0, 'B', 1000, 2))
    }
    // Each request charges 1000 / 2 = 500; +6000 / 2 puts A six requests ahead of B.
    q.adjustCounter('A', 0, 6000, 2)
    expect(popAll(q, 7).map((e) => e.consumer).join('')).toBe('BBBBBBA') // A 3500, B 3000
    q.adjustCounter('A', 0, -8000, 2) // A at -500: seven requests behind B, and A wins the tie
    expect(popAll(q, 9).map((e) => e.consumer).join('')).toBe('AAAAAAAAB')
  })

  it('ignores adjustCounter for a consumer without state', () => {
    const q = new PoolQueue<Item>()
    q.adjustCounter('nobody', 3, 1e9, 1)
    const a = item(3, 'A', 10)
    const b = item(3, 'B', 10)
    q.push(a)
    q.push(b)
    q.adjustCounter('nobody', 3, 1e9, 1)
    expect(q.pop()).toBe(a)
    expect(() => q.adjustCounter('A', 3, Number.NaN, 1)).toThrow(RangeError)
    expect(() => q.adjustCounter('A', 3, 1, 0)).toThrow(RangeError)
  })

  it('breaks counter ties by who became backlogged first', () => {
    const q = new PoolQueue<Item>()
    for (const c of ['C', 'A', 'B']) for (let i = 0; i < 2; i++) q.push(item(1, c, 100))
    expect(popAll(q, 6).map((e) => e.consumer).join('')).toBe('CABCAB')
  })
})

describe('VTC consumer state', () => {
  it('stays bounded while thousands of one-shot consumers pass through', () => {
    const band = new VtcBand()
    for (let i = 0; i < 50; i++) band.push(item(2, 'steady', 1000))
    let maxTracked = 0
    for (let i = 0; i < 10_000; i++) {
      band.push(item(2, `visitor-${i}`, 1 + (i % 7) * 500))
      band.shift()
      band.push(item(2, 'steady', 1000))
      band.shift()
      maxTracked = Math.max(maxTracked, band.tracked)
    }
    expect(maxTracked).toBeLessThanOrEqual(8)
  })

  it('drops idle state that the least-served consumer has caught up with', () => {
    const band = new VtcBand()
    for (let i = 0; i < 20; i++) band.push(item(2, 'A', 100))
    band.push(item(2, 'B', 1000))
    band.shift() // A → 100
    band.shift() // B → 1000, idle above A: kept
    expect(band.counterOf('B')).toBe(1000)
    for (let i = 0; i < 8; i++) band.shift() // A → 900
    expect(band.counterOf('B')).toBe(1000)
    band.shift() // A → 1000: B would be lifted to where it is anyway
    expect(band.counterOf('B')).toBeUndefined()
    expect(band.tracked).toBe(1)
  })

  it('forgets everything when the priority drains', () => {
    const band = new VtcBand()
    band.push(item(2, 'A', 100))
    band.push(item(2, 'B', 5000))
    band.shift()
    band.shift()
    expect(band.size).toBe(0)
    expect(band.tracked).toBe(0)
  })
})
