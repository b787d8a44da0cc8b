import { describe, expect, it } from 'vitest'
import { IndexedHeap, type HeapNode } from '../../../../src/core/queue/indexed-heap.js'
import { prng } from './helpers.js'

interface Node extends HeapNode {
  key: number
  id: number
}

const less = (a: Node, b: Node): boolean => a.key < b.key || (a.key === b.key && a.id < b.id)

describe('IndexedHeap', () => {
  it('agrees with a sorted list under random push, pop, remove and re-key', () => {
    const rand = prng(7)
    const heap = new IndexedHeap<Node>(less)
    const live: Node[] = []
    let id = 0
    for (let step = 0; step < 5000; step++) {
      const r = rand()
      if (r < 0.4 || live.length === 0) {
        const n = { heapIndex: -1, key: Math.floor(rand() * 100), id: id++ }
        heap.push(n)
        live.push(n)
      } else if (r < 0.6) {
        const top = heap.pop()
        live.sort((a, b) => (less(a, b) ? -1 : 1))
        expect(top).toBe(live.shift())
      } else if (r < 0.8) {
        const n = live.splice(Math.floor(rand() * live.length), 1)[0] as Node
        heap.remove(n)
        expect(heap.has(n)).toBe(false)
        expect(n.heapIndex).toBe(-1)
      } else {
        const n = live[Math.floor(rand() * live.length)] as Node
        n.key += Math.floor(rand() * 41) - 20
        heap.update(n)
      }
      expect(heap.size).toBe(live.length)
      const min = live.reduce<Node | undefined>((m, n) => (m === undefined || less(n, m) ? n : m), undefined)
      expect(heap.peek()).toBe(min)
    }
  })
})
