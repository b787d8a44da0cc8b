import type { Priority } from './priority.js'

type PerPriority = [number, number, number, number]

/**
 * Deficit Round Robin (Shreedhar & Varghese, SIGCOMM '95) over the four priorities.
 *
 * Backlogged priorities sit in a ring. The priority at the front is granted
 * `quantum × weight` once per turn and is served while its head costs no more than its
 * deficit; then it moves to the back and keeps what is left for its next turn. A priority
 * that empties leaves the ring and loses its deficit, so idle time earns nothing. Served
 * cost converges to the weights' proportions among the backlogged priorities, and an
 * empty priority's share goes to the others.
 *
 * `select()` only advances the state that serving would advance anyway (grant, rotate),
 * so calling it repeatedly without a `charge()` keeps answering the same priority.
 */
export class DeficitRoundRobin {
  readonly #grant: PerPriority
  readonly #headCost: (p: Priority) => number
  readonly #deficit: PerPriority = [0, 0, 0, 0]
  readonly #inRing = [false, false, false, false]
  readonly #ring: Priority[] = []
  /** Whether the front of the ring already received its quantum this turn. */
  #granted = false

  /** `headCost(p)` is the cost of the entry priority p would serve next; p is backlogged. */
  constructor(weights: readonly [number, number, number, number], quantum: number, headCost: (p: Priority) => number) {
    this.#grant = [quantum * weights[0], quantum * weights[1], quantum * weights[2], quantum * weights[3]]
    this.#headCost = headCost
  }

  /** p went from empty to backlogged: it joins the back of the ring with no deficit. */
  activate(p: Priority): void {
    if (this.#inRing[p]) return
    this.#inRing[p] = true
    this.#deficit[p] = 0
    this.#ring.push(p)
  }

  /** p emptied: it leaves the ring and forfeits its deficit. */
  deactivate(p: Priority): void {
    if (!this.#inRing[p]) return
    this.#inRing[p] = false
    this.#deficit[p] = 0
    const at = this.#ring.indexOf(p) // at most four elements
    if (at === 0) this.#granted = false
    this.#ring.splice(at, 1)
  }

  /** The priority to serve next, or undefined when nothing is backlogged. */
  select(): Priority | undefined {
    for (;;) {
      const p = this.#ring[0]
      if (p === undefined) return undefined
      if (!this.#granted) {
        this.#skipBarrenRounds()
        this.#deficit[p] += this.#grant[p]
        this.#granted = true
      }
      if (this.#headCost(p) <= this.#deficit[p]) return p
      const front = this.#ring.shift()
      if (front !== undefined) this.#ring.push(front)
      this.#granted = false
    }
  }

  /** p (the last `select()` answer) served an entry of this cost. */
  charge(p: Priority, cost: number): void {
    this.#deficit[p] -= cost
  }

  /**
   * Gives back a charge for an entry that returned to the queue. Only while p is still in
   * the ring: a priority that emptied in between already left with no deficit, like any
   * priority that goes idle, and returns as a newcomer.
   */
  refund(p: Priority, cost: number): void {
    if (this.#inRing[p]) this.#deficit[p] += cost
  }

  /**
   * Jumps over whole rounds in which no priority could serve its head, adding their
   * grants at once. Standard DRR would loop through them one by one, and a head costing
   * many quanta (a huge prompt) would make a single `select()` spin for thousands of turns;
   * here it costs one pass over at most four priorities and the outcome is identical.
   */
  #skipBarrenRounds(): void {
    let rounds = Infinity
    for (const p of this.#ring) {
      // Grants p needs before it can serve, counting the one it gets on its next turn.
      const need = Math.max(1, Math.ceil((this.#headCost(p) - this.#deficit[p]) / this.#grant[p]))
      if (need < rounds) rounds = need
    }
    const skip = rounds - 1
    if (!(skip > 0) || !Number.isFinite(skip)) return
    for (const p of this.#ring) this.#deficit[p] += skip * this.#grant[p]
  }
}
