import type { QueueEntry } from './entry.js'
import type { HeapNode } from './indexed-heap.js'

/**
 * One consumer's waiting entries inside one priority: a FIFO threaded through the entries'
 * own `queuePrev`/`queueNext` fields, plus the consumer's virtual token counter there.
 * Callers only ever see this type in `QueueEntry.queueFlow`.
 */
export class ConsumerFlow implements HeapNode {
  heapIndex = -1
  /** Weighted service received (cost / weight), VTC's virtual token counter. */
  counter: number
  /** When the flow last became backlogged; breaks counter ties so picks are deterministic. */
  seq = 0
  head: QueueEntry | null = null
  tail: QueueEntry | null = null
  size = 0

  /**
   * `owner` identifies the priority band the flow belongs to, so a queue can tell its own
   * entries from another pool's.
   */
  constructor(readonly owner: object, readonly consumer: string, counter: number) {
    this.counter = counter
  }

  append(e: QueueEntry): void {
    e.queueFlow = this
    e.queuePrev = this.tail
    e.queueNext = null
    if (this.tail === null) this.head = e
    else this.tail.queueNext = e
    this.tail = e
    this.size++
  }

  prepend(e: QueueEntry): void {
    e.queueFlow = this
    e.queuePrev = null
    e.queueNext = this.head
    if (this.head === null) this.tail = e
    else this.head.queuePrev = e
    this.head = e
    this.size++
  }

  unlink(e: QueueEntry): void {
    if (e.queuePrev === null) this.head = e.queueNext
    else e.queuePrev.queueNext = e.queueNext
    if (e.queueNext === null) this.tail = e.queuePrev
    else e.queueNext.queuePrev = e.queuePrev
    e.queuePrev = null
    e.queueNext = null
    e.queueFlow = null
    this.size--
  }
}

/** VTC order: least weighted service first; among equals, the one backlogged longest. */
export function lessServed(a: ConsumerFlow, b: ConsumerFlow): boolean {
  return a.counter < b.counter || (a.counter === b.counter && a.seq < b.seq)
}
