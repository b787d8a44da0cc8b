import { DeficitRoundRobin } from './drr.js'
import type { QueueEntry } from './entry.js'
import type { Priority } from './priority.js'
import { VtcBand } from './vtc.js'

export interface PoolQueueOptions {
  /** DRR weights for urgent, high, normal, low; default [8, 4, 2, 1]. */
  readonly weights?: readonly [number, number, number, number]
  /**
   * DRR quantum in cost units, default 1. A quantum near one request (4096 in the research notes)
   * lets a priority send many cheap requests per turn: at the tens of requests per minute an
   * LLM key takes, one round would then outlast low's maximum wait. A unit quantum interleaves
   * request by request; the skipped barren rounds keep select() cheap.
   */
  readonly quantum?: number
}

const defaultWeights = [8, 4, 2, 1] as const
const defaultQuantum = 1
const lowestFirst = [3, 2, 1, 0] as const

/**
 * One pool's waiting requests: Deficit Round Robin across the four priorities, Virtual
 * Token Counter across consumers inside a priority, FIFO within a consumer. Every
 * operation is O(log consumers) or better; nothing scans the waiting entries.
 *
 * Entries carry their own links (see `QueueLinks`); an entry is queued exactly when its
 * `queueFlow` is not null, and can be in one queue at a time.
 *
 * Charging: `pop()` charges the entry's cost to its priority's DRR deficit and
 * cost / weight to its consumer's counter. `pushFront()` is for an entry that `pop()`
 * returned and that comes back (an upstream 429): it refunds both charges, so the retry is
 * charged once, when it is popped again. The bound (`max_size`, per consumer) is the
 * caller's: it knows what to do on overflow, and `size`, `countFor` and `newest` tell it.
 */
export class PoolQueue<T extends QueueEntry> {
  readonly #bands: readonly [VtcBand, VtcBand, VtcBand, VtcBand]
  readonly #drr: DeficitRoundRobin
  readonly #perConsumer = new Map<string, number>()
  #size = 0

  constructor(opts: PoolQueueOptions = {}) {
    const weights = opts.weights ?? defaultWeights
    const quantum = opts.quantum ?? defaultQuantum
    if (!weights.every(positive)) throw new RangeError(`queue weights must be positive numbers, got ${weights.join(', ')}`)
    if (!positive(quantum)) throw new RangeError(`queue quantum must be a positive number, got ${quantum}`)
    const bands = [new VtcBand(), new VtcBand(), new VtcBand(), new VtcBand()] as const
    this.#bands = bands
    // The DRR only ever asks about backlogged priorities, whose head exists.
    this.#drr = new DeficitRoundRobin(weights, quantum, (p) => bands[p].head?.cost ?? 0)
  }

  get size(): number {
    return this.#size
  }

  sizeOf(p: Priority): number {
    return this.#bands[p].size
  }

  /** Entries waiting for this consumer, all priorities. */
  countFor(consumer: string): number {
    return this.#perConsumer.get(consumer) ?? 0
  }

  /** Tail of its consumer's FIFO in its priority. */
  push(entry: T): void {
    this.#admit(entry).push(entry)
    this.#entered(entry, false)
  }

  /** Head of its consumer's FIFO; for an entry `pop()` returned, whose charges it refunds. */
  pushFront(entry: T): void {
    this.#admit(entry).pushFront(entry)
    this.#entered(entry, true)
  }

  /** The entry `pop()` would return; the same answer on repeated calls while nothing changes. */
  peek(): T | undefined {
    const p = this.#drr.select()
    // Casts from QueueEntry to T here and below are sound: only push(T) links entries in.
    return p === undefined ? undefined : (this.#bands[p].head as T)
  }

  pop(): T | undefined {
    const p = this.#drr.select()
    if (p === undefined) return undefined
    const band = this.#bands[p]
    const entry = band.shift() as T
    this.#drr.charge(p, entry.cost)
    this.#left(entry, band)
    return entry
  }

  /** For disconnects, timeouts and evictions; false if the entry was not queued here. */
  remove(entry: T): boolean {
    const band = this.#bands[entry.priority]
    const flow = entry.queueFlow
    if (flow === null || band === undefined || flow.owner !== band) return false
    this.#drr.invalidate()
    band.remove(entry)
    this.#left(entry, band)
    return true
  }

  /**
   * Takes out an entry served out of turn, behind a head that could not go: charged as pop()
   * charges, to its priority's deficit and its consumer's counter. False if it was not queued here.
   */
  take(entry: T): boolean {
    const band = this.#bands[entry.priority]
    const flow = entry.queueFlow
    if (flow === null || band === undefined || flow.owner !== band) return false
    // Charged while its flow is still backlogged, so the charge is kept if the flow goes idle.
    this.#drr.chargeOutOfTurn(entry.priority, entry.cost)
    band.adjust(entry.consumer, entry.cost / entry.weight)
    band.remove(entry)
    this.#left(entry, band)
    return true
  }

  /** Charges an entry that left by remove() and was served after all, as pop() would have. */
  charge(entry: T): void {
    this.#drr.chargeOutOfTurn(entry.priority, entry.cost)
    this.#bands[entry.priority].adjust(entry.consumer, entry.cost / entry.weight)
  }

  /** The most recently pushed entry of priority p (re-queued entries count as oldest). */
  newest(p: Priority): T | undefined {
    return (this.#bands[p].newest as T | null) ?? undefined
  }

  /** The numerically largest priority that has entries. */
  lowestWaitingPriority(): Priority | null {
    for (const p of lowestFirst) if (this.#bands[p].size > 0) return p
    return null
  }

  /**
   * VTC reconciliation once real output tokens are known: counter += deltaCost / weight.
   * No-op if the consumer has no state in p (never queued there, or dropped as idle).
   */
  adjustCounter(consumer: string, p: Priority, deltaCost: number, weight: number): void {
    if (!Number.isFinite(deltaCost)) throw new RangeError(`deltaCost must be finite, got ${deltaCost}`)
    if (!positive(weight)) throw new RangeError(`weight must be a positive number, got ${weight}`)
    this.#drr.invalidate() // the consumer served next in p, and so p's head cost, may change
    this.#bands[p].adjust(consumer, deltaCost / weight)
  }

  /** Validates an arriving entry and returns its band. */
  #admit(entry: T): VtcBand {
    const band = this.#bands[entry.priority]
    if (band === undefined) throw new RangeError(`priority must be 0..3, got ${String(entry.priority)}`)
    if (entry.queueFlow !== null) throw new Error('entry is already queued')
    // Checked here because a NaN cost or zero weight would silently corrupt the ordering
    // of every later pick, far from the request that caused it.
    if (!(entry.cost >= 0) || !Number.isFinite(entry.cost)) throw new RangeError(`cost must be a finite number ≥ 0, got ${entry.cost}`)
    if (!positive(entry.weight)) throw new RangeError(`weight must be a positive number, got ${entry.weight}`)
    return band
  }

  #entered(entry: T, returning: boolean): void {
    this.#drr.invalidate()
    if (this.#bands[entry.priority].size === 1) this.#drr.activate(entry.priority)
    else if (returning) this.#drr.refund(entry.priority, entry.cost)
    this.#size++
    this.#perConsumer.set(entry.consumer, (this.#perConsumer.get(entry.consumer) ?? 0) + 1)
  }

  #left(entry: T, band: VtcBand): void {
    if (band.size === 0) this.#drr.deactivate(entry.priority)
    this.#size--
    const n = (this.#perConsumer.get(entry.consumer) ?? 0) - 1
    if (n > 0) this.#perConsumer.set(entry.consumer, n)
    else this.#perConsumer.delete(entry.consumer)
  }
}

function positive(n: number): boolean {
  return n > 0 && Number.isFinite(n)
}
