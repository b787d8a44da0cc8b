import { queueLinks, type Priority, type QueueEntry } from '../../../../src/core/queue/index.js'

export interface Item extends QueueEntry {
  readonly id: number
}

let nextId = 0

export function item(priority: Priority, consumer: string, cost = 4096, weight = 1): Item {
  return { id: nextId++, priority, consumer, cost, weight, ...queueLinks() }
}

/** mulberry32: a small seeded PRNG, so randomized tests replay exactly. */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export function pick<T>(rand: () => number, xs: readonly T[]): T {
  const x = xs[Math.floor(rand() * xs.length)]
  if (x === undefined) throw new Error('pick from an empty list')
  return x
}
