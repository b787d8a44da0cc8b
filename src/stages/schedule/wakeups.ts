import type { Clock } from '../../core/clock.js'
import type { KeyPacer } from '../../core/pacer/key-pacer.js'

/** Something that may be able to dispatch when a key has capacity again. */
export interface Pumpable {
  /** Dispatches what it can; true when it sent anything. */
  pump(): boolean
}

interface Alarm {
  timer: NodeJS.Timeout | null
  at: number
  readonly waiting: Set<Pumpable>
  /** Every pool that waited on this key, least recently served first: pools take turns. */
  readonly order: Pumpable[]
}

/**
 * One timer per key, armed for the earliest instant any pool waiting on it said it could go.
 * Pools are woken by this timer, by answers on the key and by reloads — never by polling.
 */
export class Wakeups {
  readonly #alarms = new Map<KeyPacer, Alarm>()

  constructor(private readonly clock: Clock) {}

  /** `pool` wants to be pumped when `pacer` can take a request, `waitMs` from now. */
  arm(pacer: KeyPacer, waitMs: number, pool: Pumpable): void {
    let alarm = this.#alarms.get(pacer)
    if (!alarm) this.#alarms.set(pacer, (alarm = { timer: null, at: Infinity, waiting: new Set(), order: [] }))
    if (!alarm.waiting.has(pool) && !alarm.order.includes(pool)) alarm.order.push(pool)
    alarm.waiting.add(pool)
    const at = this.clock.now() + waitMs
    if (alarm.timer !== null && alarm.at <= at) return
    if (alarm.timer !== null) clearTimeout(alarm.timer)
    alarm.at = at
    // A timer can fire a little before its instant as the pacer's clock sees it; the pool then
    // finds a sub-millisecond wait and arms again.
    alarm.timer = setTimeout(() => this.#ring(pacer), Math.max(1, Math.ceil(waitMs)))
  }

  /** Something changed on the key (an answer, a refund): let the pools waiting on it look again. */
  poke(pacer: KeyPacer): void {
    const alarm = this.#alarms.get(pacer)
    if (alarm && alarm.waiting.size > 0) this.#wake(alarm)
  }

  #ring(pacer: KeyPacer): void {
    const alarm = this.#alarms.get(pacer)
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
    for (const a of this.#alarms.values()) if (a.timer !== null) clearTimeout(a.timer)
    this.#alarms.clear()
  }
}
