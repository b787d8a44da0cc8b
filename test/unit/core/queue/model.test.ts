import { describe, expect, it } from 'vitest'
import { PoolQueue, type Priority } from '../../../../src/core/queue/index.js'
import { item, pick, prng, type Item } from './helpers.js'

/** The obvious, slow queue bookkeeping the real one must agree with (not its scheduling). */
class Model {
  /** Per priority, entries in arrival order (re-queued entries first). */
  readonly arrivals: Item[][] = [[], [], [], []]

  lineOf(e: Item): Item[] {
    return (this.arrivals[e.priority] ?? []).filter((x) => x.consumer === e.consumer)
  }

  add(e: Item, front: boolean): void {
    const list = this.arrivals[e.priority] ?? []
    if (front) list.unshift(e)
    else list.push(e)
  }

  drop(e: Item): void {
    const list = this.arrivals[e.priority] ?? []
    list.splice(list.indexOf(e), 1)
  }

  get all(): Item[] {
    return this.arrivals.flat()
  }
}

const consumers = ['a', 'b', 'c', 'd', 'e', 'f']
const priorities: Priority[] = [0, 1, 2, 3]

describe('PoolQueue against a model', () => {
  for (const seed of [1, 2, 3, 42, 2024]) {
    it(`agrees on every step of a random run (seed ${seed})`, () => {
      const rand = prng(seed)
      const q = new PoolQueue<Item>()
      const model = new Model()
      const bounced: Item[] = []
      const gone: Item[] = []
      for (let step = 0; step < 4000; step++) {
        const r = rand()
        if (r < 0.35) {
          const e = item(pick(rand, priorities), pick(rand, consumers), 1 + Math.floor(rand() * 20_000), pick(rand, [1, 1, 2, 0.5]))
          q.push(e)
          model.add(e, false)
        } else if (r < 0.6) {
          const head = q.peek()
          expect(q.peek()).toBe(head)
          const e = q.pop()
          expect(e).toBe(head)
          if (e === undefined) {
            expect(model.all).toEqual([])
          } else {
            // FIFO: what is served is the oldest of its consumer's line (re-queued first).
            expect(model.lineOf(e)[0]).toBe(e)
            model.drop(e)
            if (rand() < 0.3) bounced.push(e)
            else gone.push(e)
          }
        } else if (r < 0.7 && bounced.length > 0) {
          const e = bounced.splice(Math.floor(rand() * bounced.length), 1)[0] as Item
          q.pushFront(e)
          model.add(e, true)
        } else if (r < 0.85) {
          const queued = model.all
          if (queued.length > 0 && rand() < 0.8) {
            const e = pick(rand, queued)
            expect(q.remove(e)).toBe(true)
            model.drop(e)
            gone.push(e)
          } else if (gone.length > 0) {
            expect(q.remove(pick(rand, gone))).toBe(false)
          }
        } else {
          q.adjustCounter(pick(rand, consumers), pick(rand, priorities), Math.floor(rand() * 20_000) - 5000, pick(rand, [1, 2]))
        }

        expect(q.size).toBe(model.all.length)
        for (const p of priorities) {
          const list = model.arrivals[p] ?? []
          expect(q.sizeOf(p)).toBe(list.length)
          expect(q.newest(p)).toBe(list.length === 0 ? undefined : list[list.length - 1])
        }
        for (const c of consumers) expect(q.countFor(c)).toBe(model.all.filter((e) => e.consumer === c).length)
        const lowest = [...priorities].reverse().find((p) => (model.arrivals[p] ?? []).length > 0)
        expect(q.lowestWaitingPriority()).toBe(lowest ?? null)
      }
      // Everything still queued comes out, each consumer's line in order.
      const rest = model.all
      for (let e = q.pop(); e !== undefined; e = q.pop()) {
        expect(model.lineOf(e)[0]).toBe(e)
        model.drop(e)
      }
      expect(model.all).toEqual([])
      expect(rest.every((e) => e.queueFlow === null)).toBe(true)
    })
  }
})
