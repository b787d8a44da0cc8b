/** A heap element that records its own position, so update and removal need no search. */
export interface HeapNode {
  /** Position in the heap's array; -1 when in no heap. Owned by the heap. */
  heapIndex: number
}

/**
 * Binary min-heap whose elements know their index: push, pop, remove and re-keying an
 * element in place are all O(log n). An element may sit in at most one heap at a time,
 * since it has one `heapIndex`.
 */
export class IndexedHeap<N extends HeapNode> {
  readonly #nodes: N[] = []
  readonly #less: (a: N, b: N) => boolean

  constructor(less: (a: N, b: N) => boolean) {
    this.#less = less
  }

  get size(): number {
    return this.#nodes.length
  }

  peek(): N | undefined {
    return this.#nodes[0]
  }

  has(node: N): boolean {
    return node.heapIndex >= 0 && this.#nodes[node.heapIndex] === node
  }

  push(node: N): void {
    node.heapIndex = this.#nodes.length
    this.#nodes.push(node)
    this.#up(node.heapIndex)
  }

  pop(): N | undefined {
    const top = this.#nodes[0]
    if (top !== undefined) this.remove(top)
    return top
  }

  /** Removes `node`; a node that is not in this heap is left alone. */
  remove(node: N): void {
    if (!this.has(node)) return
    const i = node.heapIndex
    const last = this.#nodes.pop()
    node.heapIndex = -1
    if (last === undefined || last === node) return
    this.#nodes[i] = last
    last.heapIndex = i
    this.update(last)
  }

  /** Restores order after `node`'s key changed in either direction. */
  update(node: N): void {
    if (!this.#up(node.heapIndex)) this.#down(node.heapIndex)
  }

  /** Forgets every element without touching them: for state that is dropped as a whole. */
  clear(): void {
    this.#nodes.length = 0
  }

  #at(i: number): N {
    // Callers pass only indexes below the length.
    return this.#nodes[i] as N
  }

  #place(node: N, i: number): void {
    this.#nodes[i] = node
    node.heapIndex = i
  }

  /** Moves the element at i up while it beats its parent; true if it moved. */
  #up(i: number): boolean {
    const node = this.#at(i)
    let at = i
    while (at > 0) {
      const parent = (at - 1) >> 1
      const p = this.#at(parent)
      if (!this.#less(node, p)) break
      this.#place(p, at)
      at = parent
    }
    if (at === i) return false
    this.#place(node, at)
    return true
  }

  #down(i: number): void {
    const n = this.#nodes.length
    const node = this.#at(i)
    let at = i
    for (;;) {
      const left = 2 * at + 1
      if (left >= n) break
      const right = left + 1
      let child = left
      if (right < n && this.#less(this.#at(right), this.#at(left))) child = right
      const c = this.#at(child)
      if (!this.#less(c, node)) break
      this.#place(c, at)
      at = child
    }
    if (at !== i) this.#place(node, at)
  }
}
