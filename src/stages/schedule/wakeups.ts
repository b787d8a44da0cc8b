import type { Clock, TimerHandle, Timers } from '../../core/clock.js'

/** Something that may be able to dispatch when a key has capacity again. */
export interface Pumpable {
  /** Dispatches what it can; true when it sent anything. */
  pump(): boolean
}

interface Alarm {
  timer: TimerHandle | null
  at: number
  readonly waiting: Set<Pumpable>
  /** Every pool that waited on this key, least recently served first: pools take turns. */
  readonly order: Pumpable[]
}

/**
 * What pools wait on: a key's pacer (until an instant) or its concurrency limit (until a permit
 * is released). One timer per pacer, armed for the earliest instant any pool waiting on it said
 * it could go. Pools are woken by these timers, by answers on the key and by reloads — never by
 * polling.
 */
export class Wakeups {
  readonly #alarms = new Map<object, Alarm>()

  constructor(
    private readonly clock: Clock,
    private readonly timers: Timers,
  ) {}

  /**
   * `pool` wants to be pumped when `source` can take a request, `waitMs` from now; Infinity
   * means only when poke(source) says something changed.
   */
  arm(source: object, waitMs: number, pool: Pumpable): void {
    let alarm = this.#alarms.get(source)
    if (!alarm) this.#alarms.set(source, (alarm = { timer: null, at: Infinity, waiting: new Set(), order: [] }))
    if (!alarm.waiting.has(pool) && !alarm.order.includes(pool)) alarm.order.push(pool)
    alarm.waiting.add(pool)
    if (waitMs === Infinity) return
    const at = this.clock.now() + waitMs
    if (alarm.timer !== null && alarm.at <= at) return
    if (alarm.timer !== null) this.timers.clearTimeout(alarm.timer)
    alarm.at = at
    // A timer can fire a little before its instant as the pacer's clock sees it; the pool then
    // finds a sub-millisecond wait and arms again.
    alarm.timer = this.timers.setTimeout(() => this.#ring(source), Math.max(1, Math.ceil(waitMs)))
  }

  /** Something changed on the key (an answer, a refund, a released permit): let the pools waiting on it look again. */
  poke(source: object): void {
    const alarm = this.#alarms.get(source)
    if (alarm && alarm.waiting.size > 0) this.#wake(alarm)
  }

  #ring(source: object): void {
    const alarm = this.#alarms.get(source)
    if (!alarm) return
    alarm.timer = null
    alarm.at = Infinity
    if (alarm.waiting.size > 0) this.#wake(alarm)
  }

  #wake(alarm: Alarm): void {
    const waiting = [...alarm.waiting]
    alarm.waiting.clear()
    // The pool pumped first takes the slot, so the one served goes to the back of the line:
    // one model's backlog cannot starve another model on the same key.
    const order = alarm.order
    for (let i = 0; i < order.length; ) {
      const pool = order[i] as Pumpable
      if (waiting.includes(pool) && pool.pump()) {
        order.splice(i, 1)
        order.push(pool)
        waiting.splice(waiting.indexOf(pool), 1)
        if (waiting.length === 0) return
        continue
      }
      i++
    }
  }

  /** Pending timers, for tests and shutdown. */
  get armed(): number {
    let n = 0
    for (const a of this.#alarms.values()) if (a.timer !== null) n++
    return n
  }

  close(): void {
    for (const a of this.#alarms.values()) if (a.timer !== null) this.timers.clearTimeout(a.timer)
    this.#alarms.clear()
  }
}
