import type { ConsumerFlow } from './consumer-flow.js'
import type { Priority } from './priority.js'

/**
 * Fields the queue owns on every entry. The caller's own request object declares them,
 * initialised to null, and never writes them (`queueFlow` may be read: it is null exactly
 * when the entry is not queued). Keeping the links on the entry itself is what lets push,
 * pop and remove run without a node allocation or a map lookup per request.
 */
export interface QueueLinks {
  /** Neighbour towards the head of the consumer's FIFO (served earlier). */
  queuePrev: QueueEntry | null
  /** Neighbour towards the tail of the consumer's FIFO (served later). */
  queueNext: QueueEntry | null
  /** Previous entry of the same priority in arrival order, for `newest()`. */
  queueOlder: QueueEntry | null
  /** Next entry of the same priority in arrival order. */
  queueNewer: QueueEntry | null
  /** The consumer state holding the entry; null exactly when the entry is not queued. */
  queueFlow: ConsumerFlow | null
}

/** What the queue needs to know about a waiting request. */
export interface QueueEntry extends QueueLinks {
  readonly priority: Priority
  /** Consumer id (API key hash or client IP for now). */
  readonly consumer: string
  /** Consumer fairness weight (> 0), default 1. */
  readonly weight: number
  /** VTC/DRR cost: input tokens + 2 × estimated output tokens (≥ 1). */
  readonly cost: number
}

/** Initial link values for an entry that is not queued, to spread into an object literal. */
export function queueLinks(): QueueLinks {
  return { queuePrev: null, queueNext: null, queueOlder: null, queueNewer: null, queueFlow: null }
}
