import { describe, expect, it } from 'vitest'
import { PoolQueue, type Priority } from '../../../../src/core/queue/index.js'
import { item, type Item } from './helpers.js'

function drain(q: PoolQueue<Item>): Item[] {
  const out: Item[] = []
  for (let e = q.pop(); e !== undefined; e = q.pop()) out.push(e)
  return out
}

/** Consumers A and B with two requests each of one priority, pushed alternately (A first). */
function twoConsumers(): { q: PoolQueue<Item>; a: Item[]; b: Item[] } {
  const q = new PoolQueue<Item>()
  const a = [item(2, 'A', 1000), item(2, 'A', 1000)]
  const b = [item(2, 'B', 1000), item(2, 'B', 1000)]
  for (let i = 0; i < 2; i++) {
    q.push(a[i] as Item)
    q.push(b[i] as Item)
  }
  return { q, a, b }
}

describe('PoolQueue', () => {
  it('is empty to begin with', () => {
    const q = new PoolQueue<Item>()
    expect(q.size).toBe(0)
    expect(q.peek()).toBeUndefined()
    expect(q.pop()).toBeUndefined()
    expect(q.lowestWaitingPriority()).toBeNull()
    expect(q.newest(2)).toBeUndefined()
    expect(q.countFor('A')).toBe(0)
  })

  it('serves one consumer first in, first out', () => {
    const q = new PoolQueue<Item>()
    const xs = Array.from({ length: 6 }, (_, i) => item(2, 'A', 100 * (i + 1)))
    for (const e of xs) q.push(e)
    expect(drain(q)).toEqual(xs)
  })

  it('keeps each consumer in order while interleaving consumers', () => {
    const q = new PoolQueue<Item>()
    const a = Array.from({ length: 5 }, () => item(1, 'A', 300))
    const b = Array.from({ length: 5 }, () => item(1, 'B', 700))
    for (let i = 0; i < 5; i++) {
      q.push(a[i] as Item)
      q.push(b[i] as Item)
    }
    const order = drain(q)
    expect(order.filter((e) => e.consumer === 'A')).toEqual(a)
    expect(order.filter((e) => e.consumer === 'B')).toEqual(b)
  })

  it('peeks the same entry until something changes, and pops what it peeked', () => {
    const q = new PoolQueue<Item>()
    for (const p of [3, 1, 0, 2] as Priority[]) for (let i = 0; i < 4; i++) q.push(item(p, `c${i % 2}`, 5000))
    for (let n = 0; n < 16; n++) {
      const head = q.peek()
      for (let i = 0; i < 5; i++) expect(q.peek()).toBe(head)
      expect(q.pop()).toBe(head)
    }
    expect(q.peek()).toBeUndefined()
  })

  describe('pushFront', () => {
    it('puts a popped entry back at the head of its consumer\'s line', () => {
      const q = new PoolQueue<Item>()
      const xs = [item(2, 'A'), item(2, 'A'), item(2, 'A')]
      for (const e of xs) q.push(e)
      const first = q.pop() as Item
      q.pushFront(first)
      expect(q.size).toBe(3)
      expect(drain(q)).toEqual(xs)
    })

    it('refunds the consumer\'s counter, so the retry keeps its place among consumers', () => {
      const { q, a, b } = twoConsumers()
      for (let bounce = 0; bounce < 5; bounce++) {
        const e = q.pop()
        expect(e).toBe(a[0])
        q.pushFront(e as Item) // a 429: charged and refunded, five times over
      }
      expect(drain(q)).toEqual([a[0], b[0], a[1], b[1]])
    })

    it('refunds the priority\'s deficit, so the retry keeps its turn among priorities', () => {
      const q = new PoolQueue<Item>({ quantum: 4096 })
      // Each urgent entry costs exactly one urgent grant (8 × 4096).
      const u = [item(0, 'U', 32_768), item(0, 'U', 32_768)]
      for (const e of u) q.push(e)
      const low = item(3, 'L', 100)
      q.push(low)
      const e = q.pop()
      expect(e).toBe(u[0])
      q.pushFront(e as Item)
      // Without the refund urgent's deficit would be 0 and low would go next.
      expect(q.pop()).toBe(u[0])
      expect(q.pop()).toBe(low)
    })

    it('re-queues into an emptied priority and consumer', () => {
      const q = new PoolQueue<Item>()
      const e = item(3, 'A', 10)
      q.push(e)
      expect(q.pop()).toBe(e)
      q.pushFront(e)
      expect(q.size).toBe(1)
      expect(q.countFor('A')).toBe(1)
      expect(q.newest(3)).toBe(e)
      expect(q.pop()).toBe(e)
      expect(q.size).toBe(0)
    })

    it('counts a re-queued entry as the oldest of its priority for newest()', () => {
      const q = new PoolQueue<Item>()
      const first = item(3, 'A')
      q.push(first)
      const popped = q.pop() as Item
      const later = item(3, 'B')
      q.push(later)
      q.pushFront(popped)
      expect(q.newest(3)).toBe(later)
      q.remove(later)
      expect(q.newest(3)).toBe(popped)
    })
  })

  describe('remove', () => {
    const where = [
      { name: 'head', index: 0, rest: [1, 2, 3] },
      { name: 'middle', index: 2, rest: [0, 1, 3] },
      { name: 'tail', index: 3, rest: [0, 1, 2] },
    ]
    for (const w of where) {
      it(`takes out the ${w.name} of a consumer's line`, () => {
        const q = new PoolQueue<Item>()
        const xs = Array.from({ length: 4 }, () => item(1, 'A'))
        for (const e of xs) q.push(e)
        expect(q.remove(xs[w.index] as Item)).toBe(true)
        expect(q.size).toBe(3)
        expect(q.countFor('A')).toBe(3)
        expect(xs[w.index]?.queueFlow).toBeNull()
        expect(drain(q)).toEqual(w.rest.map((i) => xs[i]))
      })
    }

    it('keeps peek consistent after the peeked head is removed', () => {
      const q = new PoolQueue<Item>()
      const a = item(0, 'A', 100)
      const b = item(0, 'B', 100)
      const low = item(3, 'L', 100)
      q.push(a)
      q.push(b)
      q.push(low)
      expect(q.peek()).toBe(a)
      expect(q.remove(a)).toBe(true)
      expect(q.peek()).toBe(b)
      expect(q.remove(b)).toBe(true)
      expect(q.sizeOf(0)).toBe(0)
      expect(q.peek()).toBe(low)
      expect(q.pop()).toBe(low)
      expect(q.peek()).toBeUndefined()
    })

    it('answers false for entries that are not queued here', () => {
      const q = new PoolQueue<Item>()
      const other = new PoolQueue<Item>()
      const never = item(2, 'A')
      const elsewhere = item(2, 'A')
      const popped = item(2, 'A')
      const stays = item(2, 'A')
      other.push(elsewhere)
      q.push(popped)
      q.push(stays)
      expect(q.pop()).toBe(popped)
      expect(q.remove(never)).toBe(false)
      expect(q.remove(elsewhere)).toBe(false)
      expect(q.remove(popped)).toBe(false)
      expect(q.remove(stays)).toBe(true)
      expect(q.remove(stays)).toBe(false)
      expect(q.size).toBe(0)
      expect(other.size).toBe(1)
    })
  })

  describe('served out of turn', () => {
    it('take(): an entry behind the head leaves charged to its consumer, as if popped', () => {
      const { q, a, b } = twoConsumers()
      expect(q.peek()).toBe(a[0])
      expect(q.take(b[0] as Item)).toBe(true)
      expect(q.take(b[0] as Item)).toBe(false)
      expect(q.size).toBe(3)
      expect(q.countFor('B')).toBe(1)
      // B was served once already: A goes twice before B's second.
      expect(drain(q)).toEqual([a[0], a[1], b[1]])
    })

    it('charge(): an entry removed uncharged and then served counts as served', () => {
      const { q, a, b } = twoConsumers()
      expect(q.remove(a[0] as Item)).toBe(true)
      q.charge(a[0] as Item)
      expect(drain(q)).toEqual([b[0], a[1], b[1]])
    })

    it('take(): charged to its priority\'s deficit too', () => {
      const q = new PoolQueue<Item>({ quantum: 4096 })
      // Each urgent entry costs one urgent grant (8 × 4096); low's grant is 4096.
      const u = [item(0, 'U', 32_768), item(0, 'U', 32_768), item(0, 'U', 32_768)]
      for (const e of u) q.push(e)
      const low = [item(3, 'L', 4096), item(3, 'L', 4096)]
      for (const e of low) q.push(e)
      expect(q.peek()).toBe(u[0])
      // Urgent's second is served out of turn: it used urgent's turn, and low's comes next.
      expect(q.take(u[1] as Item)).toBe(true)
      expect(drain(q)).toEqual([low[0], u[0], low[1], u[2]])
    })
  })

  it('reports the newest entry per priority and the lowest waiting priority', () => {
    const q = new PoolQueue<Item>()
    const n1 = item(2, 'A')
    const n2 = item(2, 'B')
    const h1 = item(1, 'A')
    const n3 = item(2, 'A')
    for (const e of [n1, n2, h1, n3]) q.push(e)
    expect(q.newest(2)).toBe(n3)
    expect(q.newest(1)).toBe(h1)
    expect(q.newest(3)).toBeUndefined()
    expect(q.lowestWaitingPriority()).toBe(2)
    q.remove(n3)
    expect(q.newest(2)).toBe(n2)
    const l1 = item(3, 'C')
    q.push(l1)
    expect(q.lowestWaitingPriority()).toBe(3)
    q.remove(l1)
    q.remove(n1)
    q.remove(n2)
    expect(q.newest(2)).toBeUndefined()
    expect(q.lowestWaitingPriority()).toBe(1)
    q.remove(h1)
    expect(q.lowestWaitingPriority()).toBeNull()
  })

  it('counts each consumer\'s entries across priorities and keeps sizes after every operation', () => {
    const q = new PoolQueue<Item>()
    const check = (size: number, per: [number, number, number, number], a: number, b: number): void => {
      expect(q.size).toBe(size)
      expect([q.sizeOf(0), q.sizeOf(1), q.sizeOf(2), q.sizeOf(3)]).toEqual(per)
      expect(q.countFor('A')).toBe(a)
      expect(q.countFor('B')).toBe(b)
    }
    const a0 = item(0, 'A')
    const a3 = item(3, 'A')
    const b3 = item(3, 'B')
    q.push(a0); check(1, [1, 0, 0, 0], 1, 0)
    q.push(a3); check(2, [1, 0, 0, 1], 2, 0)
    q.push(b3); check(3, [1, 0, 0, 2], 2, 1)
    expect(q.pop()).toBe(a0); check(2, [0, 0, 0, 2], 1, 1)
    q.pushFront(a0); check(3, [1, 0, 0, 2], 2, 1)
    q.remove(b3); check(2, [1, 0, 0, 1], 2, 0)
    q.pop(); q.pop(); check(0, [0, 0, 0, 0], 0, 0)
  })

  it('rejects an entry that is already queued and entries with invalid fields', () => {
    const q = new PoolQueue<Item>()
    const e = item(1, 'A')
    q.push(e)
    expect(() => q.push(e)).toThrow(/already queued/)
    expect(() => q.pushFront(e)).toThrow(/already queued/)
    expect(() => q.push(item(4 as Priority, 'A'))).toThrow(RangeError)
    expect(() => q.push(item(1, 'A', Number.NaN))).toThrow(RangeError)
    expect(() => q.push(item(1, 'A', -1))).toThrow(RangeError)
    expect(() => q.push(item(1, 'A', 100, 0))).toThrow(RangeError)
    expect(q.size).toBe(1)
  })
})

describe('PoolQueue: peeking commits no turn', () => {
  it('a lone low entry peeked while no key is free does not keep its turn when urgent ones arrive', () => {
    const q = new PoolQueue<Item>()
    const low = item(3, 'L', 300)
    q.push(low)
    expect(q.peek()).toBe(low) // the dispatcher looks, but no key can take it yet
    const urgent = [item(0, 'U', 300), item(0, 'U', 300), item(0, 'U', 300)]
    for (const u of urgent) q.push(u)
    expect(q.pop()).toBe(urgent[0])
  })
})
