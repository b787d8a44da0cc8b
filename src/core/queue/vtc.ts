import { ConsumerFlow, lessServed } from './consumer-flow.js'
import type { QueueEntry } from './entry.js'
import { IndexedHeap } from './indexed-heap.js'

/**
 * The entries of one priority, served across consumers by Virtual Token Counter (Sheng et
 * al., "Fairness in Serving LLMs", OSDI '24): the backlogged consumer with the least
 * weighted service goes next, FIFO within a consumer.
 *
 * Consumer state is kept only while it can still matter:
 * - a backlogged consumer (≥ 1 waiting entry) always has state;
 * - an idle consumer whose counter is at or below the least backlogged counter is dropped,
 *   because lifting on its return would put it at that minimum anyway, the same place a
 *   consumer never seen before starts; an idle consumer above the minimum is kept (its
 *   surplus service must still count when it returns) in a heap by counter, and dropped as
 *   soon as the backlogged minimum passes it;
 * - when the priority drains, everything is dropped: with nobody waiting nobody was
 *   treated unfairly, and the next backlogged period starts from 0.
 * So idle state is bounded by the consumers served within about one request's worth of
 * virtual time behind the current minimum, never by the number of consumers ever seen.
 */
export class VtcBand {
  #flows = new Map<string, ConsumerFlow>()
  readonly #backlogged = new IndexedHeap<ConsumerFlow>(lessServed)
  readonly #idle = new IndexedHeap<ConsumerFlow>(lessServed)
  // Arrival order across all consumers, threaded through queueOlder/queueNewer, so the
  // newest entry (the one shed-lowest evicts) is found without a scan.
  #oldest: QueueEntry | null = null
  #newest: QueueEntry | null = null
  #size = 0
  #seq = 0

  get size(): number {
    return this.#size
  }

  /** Consumers with state (backlogged or retained idle); for tests and diagnostics. */
  get tracked(): number {
    return this.#flows.size
  }

  /** The entry VTC serves next. */
  get head(): QueueEntry | null {
    return this.#backlogged.peek()?.head ?? null
  }

  get newest(): QueueEntry | null {
    return this.#newest
  }

  counterOf(consumer: string): number | undefined {
    return this.#flows.get(consumer)?.counter
  }

  /** `e` must not be queued anywhere. */
  push(e: QueueEntry): void {
    this.#backlog(e.consumer).append(e)
    e.queueNewer = null
    e.queueOlder = this.#newest
    if (this.#newest === null) this.#oldest = e
    else this.#newest.queueNewer = e
    this.#newest = e
    this.#size++
  }

  /**
   * Puts a popped entry back at the head of its consumer's FIFO and refunds the counter
   * charge `shift()` made for it, so a request that bounced off an upstream 429 is not
   * charged twice. The refund comes after the lift: if the consumer was dropped meanwhile,
   * it returns one request ahead of the least-served consumer, which is where it stood.
   */
  pushFront(e: QueueEntry): void {
    const flow = this.#backlog(e.consumer)
    flow.counter -= e.cost / e.weight
    this.#backlogged.update(flow)
    flow.prepend(e)
    // Arrival order: it has waited longer than anything pushed since, so it is the oldest,
    // and shed-lowest (which evicts the newest) takes it last.
    e.queueOlder = null
    e.queueNewer = this.#oldest
    if (this.#oldest === null) this.#newest = e
    else this.#oldest.queueOlder = e
    this.#oldest = e
    this.#size++
  }

  /** Removes and returns the head, charging its consumer cost / weight. Band must be non-empty. */
  shift(): QueueEntry {
    const flow = this.#backlogged.peek()
    const e = flow?.head
    if (flow === undefined || e === null || e === undefined) throw new Error('shift() on an empty band')
    this.#leave(flow, e)
    flow.counter += e.cost / e.weight
    if (flow.size === 0) this.#deactivate(flow)
    else {
      this.#backlogged.update(flow)
      this.#prune()
    }
    return e
  }

  /** Removes an entry queued in this band. */
  remove(e: QueueEntry): void {
    const flow = e.queueFlow
    if (flow === null || flow.owner !== this) throw new Error('entry is not queued in this band')
    this.#leave(flow, e)
    // Removing entries changes no counter, so a flow that keeps entries keeps its place.
    if (flow.size === 0) this.#deactivate(flow)
  }

  /** counter += delta, for reconciliation once real output is known; no-op without state. */
  adjust(consumer: string, delta: number): void {
    const flow = this.#flows.get(consumer)
    if (flow === undefined) return
    flow.counter += delta
    if (flow.size > 0) this.#backlogged.update(flow)
    else this.#idle.update(flow)
    this.#prune()
  }

  /** The consumer's flow, made backlogged (and lifted) if it was not. */
  #backlog(consumer: string): ConsumerFlow {
    const least = this.#backlogged.peek()
    let flow = this.#flows.get(consumer)
    if (flow === undefined) {
      // No state means no surplus to remember: start level with the least-served.
      flow = new ConsumerFlow(this, consumer, least?.counter ?? 0)
      this.#flows.set(consumer, flow)
    } else if (flow.size > 0) {
      return flow
    } else {
      this.#idle.remove(flow)
      // The lift: time spent idle must not turn into credit that lets a returning
      // consumer monopolise the band.
      if (least !== undefined && flow.counter < least.counter) flow.counter = least.counter
    }
    flow.seq = ++this.#seq
    this.#backlogged.push(flow)
    return flow
  }

  #leave(flow: ConsumerFlow, e: QueueEntry): void {
    flow.unlink(e)
    if (e.queueOlder === null) this.#oldest = e.queueNewer
    else e.queueOlder.queueNewer = e.queueNewer
    if (e.queueNewer === null) this.#newest = e.queueOlder
    else e.queueNewer.queueOlder = e.queueOlder
    e.queueOlder = null
    e.queueNewer = null
    this.#size--
  }

  #deactivate(flow: ConsumerFlow): void {
    this.#backlogged.remove(flow)
    const least = this.#backlogged.peek()
    if (least === undefined) {
      // Drained: drop all consumer state at once (O(1); nothing references it any more).
      this.#flows = new Map()
      this.#idle.clear()
      return
    }
    if (flow.counter <= least.counter) this.#flows.delete(flow.consumer)
    else this.#idle.push(flow)
    this.#prune()
  }

  /** Drops idle state the backlogged minimum has caught up with. */
  #prune(): void {
    const least = this.#backlogged.peek()
    if (least === undefined) return
    for (let f = this.#idle.peek(); f !== undefined && f.counter <= least.counter; f = this.#idle.peek()) {
      this.#idle.pop()
      this.#flows.delete(f.consumer)
    }
  }
}
