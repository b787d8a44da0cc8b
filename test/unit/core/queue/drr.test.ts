import { describe, expect, it } from 'vitest'
import { DeficitRoundRobin } from '../../../../src/core/queue/drr.js'
import { PoolQueue, type Priority } from '../../../../src/core/queue/index.js'
import { item, type Item } from './helpers.js'

interface Served {
  count: [number, number, number, number]
  cost: [number, number, number, number]
  order: Priority[]
}

/** Pops `pops` times, refilling each popped priority so the given ones stay backlogged. */
function serve(costs: Partial<Record<Priority, number>>, pops: number, q = new PoolQueue<Item>()): Served {
  for (const [p, cost] of Object.entries(costs)) for (let i = 0; i < 3; i++) q.push(item(Number(p) as Priority, 'c', cost))
  const out: Served = { count: [0, 0, 0, 0], cost: [0, 0, 0, 0], order: [] }
  for (let i = 0; i < pops; i++) {
    const e = q.pop()
    if (e === undefined) throw new Error('queue ran dry')
    out.count[e.priority]++
    out.cost[e.priority] += e.cost
    out.order.push(e.priority)
    q.push(item(e.priority, e.consumer, e.cost))
  }
  return out
}

const shares = (xs: readonly number[]): number[] => {
  const total = xs.reduce((a, b) => a + b, 0)
  return xs.map((x) => x / total)
}

function expectShares(actual: readonly number[], expected: readonly number[], tolerance = 0.03): void {
  actual.forEach((a, i) => expect(Math.abs(a - (expected[i] ?? 0)), `priority ${i}: ${a} vs ${expected[i]}`).toBeLessThanOrEqual(tolerance))
}

describe('DRR across priorities', () => {
  it('serves 8:4:2:1 with all four backlogged and equal costs', () => {
    const s = serve({ 0: 1000, 1: 1000, 2: 1000, 3: 1000 }, 10_000)
    expectShares(shares(s.count), [8 / 15, 4 / 15, 2 / 15, 1 / 15])
  })

  const unequal: { name: string, costs: [number, number, number, number] }[] = [
    { name: 'cheap urgent, costly low', costs: [300, 4096, 3000, 10_000] },
    { name: 'costly urgent, cheap low', costs: [20_000, 9000, 500, 50] },
    { name: 'all above one grant', costs: [40_000, 40_000, 40_000, 40_000] },
    { name: 'odd sizes', costs: [777, 12_345, 100, 65_537] },
  ]
  for (const c of unequal) {
    it(`shares cost 8:4:2:1 with unequal costs (${c.name})`, () => {
      const s = serve({ 0: c.costs[0], 1: c.costs[1], 2: c.costs[2], 3: c.costs[3] }, 10_000)
      expectShares(shares(s.cost), [8 / 15, 4 / 15, 2 / 15, 1 / 15])
    })
  }

  const subsets: { backlogged: Priority[], expected: number[] }[] = [
    { backlogged: [3], expected: [0, 0, 0, 1] },
    { backlogged: [2, 3], expected: [0, 0, 2 / 3, 1 / 3] },
    { backlogged: [0, 3], expected: [8 / 9, 0, 0, 1 / 9] },
    { backlogged: [1, 2, 3], expected: [0, 4 / 7, 2 / 7, 1 / 7] },
  ]
  for (const c of subsets) {
    it(`gives idle priorities' share to the backlogged ones (${c.backlogged.join(',')})`, () => {
      const s = serve(Object.fromEntries(c.backlogged.map((p) => [p, 2500])), 6000)
      expectShares(shares(s.cost), c.expected)
    })
  }

  it('gives low at least 1/15 of the cost, once in every 15 pops when costs equal the quantum', () => {
    const s = serve({ 0: 4096, 1: 4096, 2: 4096, 3: 4096 }, 3000, new PoolQueue<Item>({ quantum: 4096 }))
    expect(shares(s.cost)[3]).toBeGreaterThanOrEqual(1 / 15 - 0.001)
    for (let i = 0; i + 15 <= s.order.length; i++) expect(s.order.slice(i, i + 15)).toContain(3)
    // One round is exactly 8 urgent, 4 high, 2 normal, 1 low.
    expect(s.order.slice(0, 15)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 3])
  })

  it('serves an entry costing hundreds of quanta while urgent stays backlogged', () => {
    const q = new PoolQueue<Item>()
    const huge = item(3, 'big', 1_000_000)
    q.push(huge)
    // Several urgent entries, so urgent never empties (an emptied priority starts over).
    for (let i = 0; i < 3; i++) q.push(item(0, 'u', 1000))
    let urgentCost = 0
    for (let pops = 0; ; pops++) {
      const e = q.pop()
      if (e === huge) break
      if (e === undefined || pops > 100_000) throw new Error('huge entry starved')
      urgentCost += e.cost
      q.push(item(0, 'u', 1000))
    }
    // Low gets 1/9 against urgent alone: about 8 × 1e6 of urgent first, within one round.
    expect(Math.abs(urgentCost - 8_000_000)).toBeLessThanOrEqual(8 * 4096 + 4096)
  })

  it('answers peek at once for a head costing far more than any number of rounds', () => {
    const q = new PoolQueue<Item>()
    const e = item(3, 'c', 1e15)
    q.push(e)
    q.push(item(2, 'c', 1e14))
    expect(q.peek()?.cost).toBe(1e14)
    expect(q.pop()?.cost).toBe(1e14)
    expect(q.peek()).toBe(e)
  })

  it('interleaves cheap requests one by one with the default unit quantum', () => {
    // At LLM rates a round of large quanta would outlast low's maximum wait.
    const s = serve({ 0: 33, 1: 33, 2: 33, 3: 33 }, 1500)
    for (let i = 0; i + 15 <= s.order.length; i += 15) {
      const window = s.order.slice(i, i + 15)
      expect(window.filter((p) => p === 0).length).toBeGreaterThanOrEqual(7)
      expect(window).toContain(3)
    }
  })

  it('honours configured weights and quantum', () => {
    const q = new PoolQueue<Item>({ weights: [1, 1, 1, 1], quantum: 10 })
    const s = serve({ 0: 10, 1: 10, 2: 10, 3: 10 }, 8, new PoolQueue<Item>({ quantum: 4096 }))
    expect(s.order).toEqual([0, 0, 0, 0, 0, 0, 0, 0])
    expect(serve({ 0: 10, 1: 10, 2: 10, 3: 10 }, 8, q).order).toEqual([0, 1, 2, 3, 0, 1, 2, 3])
  })

  it('rejects weights and quanta that are not positive numbers', () => {
    expect(() => new PoolQueue({ weights: [8, 4, 0, 1] })).toThrow(RangeError)
    expect(() => new PoolQueue({ weights: [8, 4, Number.NaN, 1] })).toThrow(RangeError)
    expect(() => new PoolQueue({ quantum: -1 })).toThrow(RangeError)
    expect(() => new PoolQueue({ quantum: Infinity })).toThrow(RangeError)
  })
})

describe('DeficitRoundRobin', () => {
  it('takes the deficit away from a priority that empties', () => {
    const cost: Record<Priority, number> = { 0: 10, 1: 0, 2: 0, 3: 5 }
    const drr = new DeficitRoundRobin([8, 4, 2, 1], 10, (p) => cost[p])
    drr.activate(0)
    expect(drr.select()).toBe(0)
    drr.charge(0, 10) // 70 of urgent's 80 left
    drr.deactivate(0)
    drr.activate(3)
    drr.activate(0)
    cost[0] = 150 // 70 kept + 80 granted would pay for it; 80 alone does not
    expect(drr.select()).toBe(3)
    drr.charge(3, 5)
    expect(drr.select()).toBe(3)
    drr.charge(3, 5)
    expect(drr.select()).toBe(3) // urgent got 80 < 150 and passed its turn
  })

  it('keeps answering the same priority until charged', () => {
    const drr = new DeficitRoundRobin([8, 4, 2, 1], 4096, () => 5000)
    drr.activate(3)
    drr.activate(1)
    const first = drr.select()
    for (let i = 0; i < 10; i++) expect(drr.select()).toBe(first)
  })

  it('selects nothing when nothing is backlogged', () => {
    const drr = new DeficitRoundRobin([8, 4, 2, 1], 4096, () => 1)
    expect(drr.select()).toBeUndefined()
    drr.activate(2)
    drr.deactivate(2)
    expect(drr.select()).toBeUndefined()
  })
})
