import type { BudgetPeriod } from '../core/admit/budget.js'
import type { SpendCounters } from './spend.js'

// Budget spend an instance could not add to the shared counters (Redis was away when the request
// finished), kept to be charged once Redis answers again, so an outage does not hand out a
// budget's money twice. Rates are not kept this way: a minute's window is over by then.

/** Consumers remembered at most; beyond, spend is dropped and counted (an outage that long loses some). */
const defaultMaxEntries = 10_000

export class SpendBacklog {
  readonly #owed = new Map<string, { readonly consumerId: string; readonly period: BudgetPeriod; pico: number }>()
  readonly #maxEntries: number
  #dropped = 0
  #flushing: Promise<void> | null = null

  constructor(opts: { readonly maxEntries?: number } = {}) {
    this.#maxEntries = opts.maxEntries ?? defaultMaxEntries
  }

  /** Consumers with spend still to charge. */
  get size(): number {
    return this.#owed.size
  }

  /** Charges that could not be kept (the bound was reached). */
  get dropped(): number {
    return this.#dropped
  }

  owe(consumerId: string, period: BudgetPeriod, pico: number): void {
    if (!(pico > 0)) return
    const id = `${consumerId}\u0000${period}`
    const entry = this.#owed.get(id)
    if (entry !== undefined) entry.pico += pico
    else if (this.#owed.size < this.#maxEntries) this.#owed.set(id, { consumerId, period, pico })
    else this.#dropped++
  }

  /**
   * Charges what is owed; what fails stays owed for the next flush. One flush at a time (a
   * second call joins the first). Charged to the period current when it runs.
   */
  flush(spend: SpendCounters): Promise<void> {
    this.#flushing ??= this.#charge(spend).finally(() => (this.#flushing = null))
    return this.#flushing
  }

  async #charge(spend: SpendCounters): Promise<void> {
    const entries = [...this.#owed]
    await Promise.all(
      entries.map(async ([id, e]) => {
        const pico = e.pico
        try {
          await spend.charge(e.consumerId, e.period, pico)
        } catch {
          return
        }
        // Owed meanwhile (a request finished during the flush) stays owed.
        e.pico -= pico
        if (e.pico <= 0) this.#owed.delete(id)
      }),
    )
  }
}
