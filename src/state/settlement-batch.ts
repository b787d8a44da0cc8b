import type { BudgetPeriod } from '../core/admit/budget.js'
import { systemTimers, type TimerHandle, type Timers } from '../core/clock.js'
import type { ConsumerRates, Settlement, SettlementItem } from './consumer-rates.js'
import { StateScriptError } from './errors.js'

// Settlements of finished requests (tokens estimate → usage, cost → budget), sent together: one
// round trip per `flushMs` for every request that finished meanwhile, summed per consumer, instead
// of one per request. Nobody waits for a settlement, so a few milliseconds' delay costs nothing
// but that delay in the TPM and budget standings; under load it takes most of the Redis work off
// the request path (the admit script stays the one round trip a request waits for).

export interface SettlementBatchOptions {
  readonly timers?: Timers
  /** Longest a settlement waits to be sent. Default 20 ms. */
  readonly flushMs?: number
  /** Sent at once when this many consumers wait (bounds one pipeline). Default 200. */
  readonly maxItems?: number
  /**
   * A flush that failed: what it carried is lost to the rates (and the caller may owe the spend).
   * A StateScriptError comes with only the items whose spend was refused (the rest was applied).
   */
  readonly onError?: (err: unknown, items: readonly SettlementItem[]) => void
}

interface Pending {
  readonly consumerId: string
  readonly tpm: number | null
  readonly period: BudgetPeriod | null
  /** Σ (used − charged) tokens. */
  tokens: number
  pico: number
}

export class SettlementBatch {
  readonly #rates: ConsumerRates
  readonly #timers: Timers
  readonly #flushMs: number
  readonly #maxItems: number
  readonly #onError: (err: unknown, items: readonly SettlementItem[]) => void
  #pending = new Map<string, Pending>()
  #timer: TimerHandle | null = null
  readonly #inFlight = new Set<Promise<void>>()

  constructor(rates: ConsumerRates, opts: SettlementBatchOptions = {}) {
    this.#rates = rates
    this.#timers = opts.timers ?? systemTimers
    this.#flushMs = opts.flushMs ?? 20
    this.#maxItems = opts.maxItems ?? 200
    this.#onError = opts.onError ?? (() => {})
  }

  /** Consumers with a settlement waiting to be sent. */
  get pending(): number {
    return this.#pending.size
  }

  add(consumerId: string, s: Settlement): void {
    const tokens = s.tpm === null ? 0 : s.used - s.charged
    const pico = s.budget === null ? 0 : s.budget.pico
    if (tokens === 0 && !(pico > 0)) return
    const period = s.budget?.period ?? null
    // A change of TPM or budget period between two requests starts a separate entry (rare).
    const id = `${consumerId}\u0000${s.tpm ?? ''}\u0000${period ?? ''}`
    const entry = this.#pending.get(id)
    if (entry !== undefined) {
      entry.tokens += tokens
      entry.pico += pico > 0 ? pico : 0
    } else {
      this.#pending.set(id, { consumerId, tpm: s.tpm, period, tokens, pico: pico > 0 ? pico : 0 })
    }
    if (this.#pending.size >= this.#maxItems) void this.flush()
    else this.#timer ??= this.#timers.setTimeout(() => void this.flush(), this.#flushMs)
  }

  /** Sends what waits now; resolves when it (and any flush still under way) has landed or failed. */
  flush(): Promise<void> {
    if (this.#timer !== null) {
      this.#timers.clearTimeout(this.#timer)
      this.#timer = null
    }
    if (this.#pending.size > 0) {
      const items: SettlementItem[] = []
      for (const p of this.#pending.values()) {
        items.push({ consumerId: p.consumerId, settlement: { tpm: p.tpm, charged: 0, used: p.tokens, budget: p.period === null || p.pico <= 0 ? null : { period: p.period, pico: p.pico } } })
      }
      this.#pending = new Map()
      const sent: Promise<void> = this.#rates.settleMany(items).then(
        (unspent) => {
          if (unspent.length > 0) this.#onError(new StateScriptError('spend', `the shared spend refused ${unspent.length} settlement(s)`), unspent)
        },
        (err: unknown) => this.#onError(err, items),
      )
      this.#inFlight.add(sent)
      void sent.finally(() => this.#inFlight.delete(sent))
    }
    return Promise.all(this.#inFlight).then(() => undefined)
  }
}
