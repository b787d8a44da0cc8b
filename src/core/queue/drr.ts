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
 * `select()` commits nothing: it works out the turn on a copy of the ring and deficits and
 * keeps that plan until the queue changes. Only `charge()` (a real dispatch) commits it. A
 * dispatcher that peeks while no key can take the head must not hand the turn to whoever
 * happens to wait alone: urgent requests arriving before the key frees up go first.
 */
export class DeficitRoundRobin {
  readonly #grant: PerPriority
  readonly #headCost: (p: Priority) => number
  readonly #deficit: PerPriority = [0, 0, 0, 0]
  readonly #inRing = [false, false, false, false]
  #ring: Priority[] = []
  /** Whether the front of the ring already received its quantum this turn. */
  #granted = false
  /** The uncommitted outcome of the last select(), valid until the queue changes. */
  #plan: { p: Priority; ring: Priority[]; deficit: PerPriority; granted: boolean } | null = null

  /** `headCost(p)` is the cost of the entry priority p would serve next; p is backlogged. */
  constructor(weights: readonly [number, number, number, number], quantum: number, headCost: (p: Priority) => number) {
    this.#grant = [quantum * weights[0], quantum * weights[1], quantum * weights[2], quantum * weights[3]]
    this.#headCost = headCost
  }

  /** A head changed (an entry arrived, left or came back): the planned turn may differ now. */
  invalidate(): void {
    this.#plan = null
  }

  /** p went from empty to backlogged: it joins the back of the ring with no deficit. */
  activate(p: Priority): void {
    this.#plan = null
    if (this.#inRing[p]) return
    this.#inRing[p] = true
    this.#deficit[p] = 0
    this.#ring.push(p)
  }

  /** p emptied: it leaves the ring and forfeits its deficit. */
  deactivate(p: Priority): void {
    this.#plan = null
    if (!this.#inRing[p]) return
    this.#inRing[p] = false
    this.#deficit[p] = 0
    const at = this.#ring.indexOf(p) // at most four elements
    if (at === 0) this.#granted = false
    this.#ring.splice(at, 1)
  }

  /** The priority to serve next, or undefined when nothing is backlogged. */
  select(): Priority | undefined {
    if (this.#plan !== null) return this.#plan.p
    if (this.#ring.length === 0) return undefined
    const ring = this.#ring.slice()
    const deficit: PerPriority = [...this.#deficit]
    let granted = this.#granted
    for (;;) {
      const p = ring[0] as Priority
      if (!granted) {
        this.#skipBarrenRounds(ring, deficit)
        deficit[p] += this.#grant[p]
        granted = true
      }
      if (this.#headCost(p) <= deficit[p]) {
        this.#plan = { p, ring, deficit, granted }
        return p
      }
      ring.push(ring.shift() as Priority)
      granted = false
    }
  }

  /** p (the last `select()` answer) served an entry of this cost: the planned turn happens. */
  charge(p: Priority, cost: number): void {
    const plan = this.#plan
    if (plan !== null && plan.p === p) {
      this.#ring = plan.ring
      for (let i = 0; i < 4; i++) this.#deficit[i] = plan.deficit[i] as number
      this.#granted = plan.granted
    }
    this.#plan = null
    this.#deficit[p] -= cost
  }

  /**
   * p served an entry out of its turn (one behind a head that could not go): charged to p's
   * deficit, the planned turn left as it was. While p is in the ring only, like a refund.
   */
  chargeOutOfTurn(p: Priority, cost: number): void {
    this.#plan = null
    if (this.#inRing[p]) this.#deficit[p] -= cost
  }

  /**
   * Gives back a charge for an entry that returned to the queue. Only while p is still in
   * the ring: a priority that emptied in between already left with no deficit, like any
   * priority that goes idle, and returns as a newcomer.
   */
  refund(p: Priority, cost: number): void {
    this.#plan = null
    if (this.#inRing[p]) this.#deficit[p] += cost
  }

  /**
   * Jumps over whole rounds in which no priority could serve its head, adding their
   * grants at once. Standard DRR would loop through them one by one, and a head costing
   * many quanta (a huge prompt) would make a single `select()` spin for thousands of turns;
   * here it costs one pass over at most four priorities and the outcome is identical.
   */
  #skipBarrenRounds(ring: readonly Priority[], deficit: PerPriority): void {
    let rounds = Infinity
    for (const p of ring) {
      // Grants p needs before it can serve, counting the one it gets on its next turn.
      const need = Math.max(1, Math.ceil((this.#headCost(p) - deficit[p]) / this.#grant[p]))
      if (need < rounds) rounds = need
    }
    const skip = rounds - 1
    if (!(skip > 0) || !Number.isFinite(skip)) return
    for (const p of ring) deficit[p] += skip * this.#grant[p]
  }
}
