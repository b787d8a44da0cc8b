// Consumer budgets: usage × the price table (`pricing:` in sluice.yaml, USD per million tokens),
// summed per period and compared with the consumer's `budget_usd`. Times here are epoch ms
// (Date.now()): periods are calendar periods in UTC, which a monotonic clock knows nothing of.

export type BudgetPeriod = 'day' | 'week' | 'month' | 'total'

export const budgetPeriods = ['day', 'week', 'month', 'total'] as const satisfies readonly BudgetPeriod[]

/** USD per million tokens, as configured. */
export interface ModelPrice {
  readonly input: number
  readonly output: number
}

// Money is counted in integer picodollars (10^-12 USD): a price of $0.15 per million tokens is
// 150 000 pUSD per token, exactly. Summed as floats, ten charges of $0.1 come to
// $0.9999999999999999, and a budget of $1 would let an eleventh request through; as integers
// the sum is exact up to 2^53 pUSD ≈ $9 007 per period, and off by far less than a cent above.
const PICO_PER_USD = 1e12
const picoPerTokenOf = (usdPerMillion: number): number => Math.round(usdPerMillion * 1e6)
const toPico = (usd: number): number => Math.round(usd * PICO_PER_USD)

/** USD as the integer picodollars budgets count in (shared spend counters take these). */
export const usdToPico = toPico

const DAY_MS = 86_400_000
const WEEK_MS = 7 * DAY_MS
/** Unpriced model names remembered for warnOnce; past this, no more warnings (a flood of names is not a log flood). */
const maxUnpricedNames = 1000

/** The price table, compiled once per config generation. */
export class PriceTable {
  readonly #perToken = new Map<string, { readonly input: number; readonly output: number }>()
  readonly #warned = new Set<string>()

  constructor(pricing: Readonly<Record<string, ModelPrice>>) {
    for (const [model, p] of Object.entries(pricing)) {
      if (!(p.input >= 0 && p.output >= 0)) throw new RangeError(`pricing.${model}: prices must be non-negative numbers`)
      this.#perToken.set(model, { input: picoPerTokenOf(p.input), output: picoPerTokenOf(p.output) })
    }
  }

  has(model: string): boolean {
    return this.#perToken.has(model)
  }

  /** USD for one request's usage; 0 for a model without a price (see `warnOnce`). */
  costOf(model: string, promptTokens: number, completionTokens: number): number {
    const p = this.#perToken.get(model)
    if (p === undefined) return 0
    return (promptTokens * p.input + completionTokens * p.output) / PICO_PER_USD
  }

  /**
   * True the first time it is asked about a model without a price, false otherwise (and for
   * priced models): `if (prices.warnOnce(model)) log.warn(…)` warns once per model, since every
   * request to it goes uncounted against budgets.
   */
  warnOnce(model: string): boolean {
    if (this.#perToken.has(model) || this.#warned.has(model) || this.#warned.size >= maxUnpricedNames) return false
    this.#warned.add(model)
    return true
  }
}

/** Epoch ms of the UTC start of the period holding `nowEpochMs`; 0 (the epoch) for 'total'. Weeks start on Monday (ISO 8601). */
export function periodStart(period: BudgetPeriod, nowEpochMs: number): number {
  const d = new Date(nowEpochMs)
  switch (period) {
    case 'day':
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate())
    case 'week': {
      const day = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate())
      return day - ((d.getUTCDay() + 6) % 7) * DAY_MS
    }
    case 'month':
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1)
    case 'total':
      return 0
  }
}

/** Epoch ms at which the period that starts at `start` ends; null for 'total', which never does. */
export function nextPeriodStart(period: BudgetPeriod, start: number): number | null {
  switch (period) {
    case 'day':
      return start + DAY_MS // UTC has no daylight saving, and JavaScript time no leap seconds
    case 'week':
      return start + WEEK_MS
    case 'month': {
      const d = new Date(start)
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) // month 12 is January of the next year
    }
    case 'total':
      return null
  }
}

/**
 * One consumer's spend in the current period. A request is refused once the spend has reached
 * the limit; what is already in flight is charged when its usage comes back, so the limit can be
 * overshot by the cost of the requests admitted just before it was reached. We do not reserve
 * estimated costs at admission: the estimate of output is max_tokens or a reserve, often far
 * above the real cost, and reserving it would refuse a consumer with budget left while its
 * requests run; and a budget is a monthly-scale control, where one request's overshoot is noise.
 */
export class BudgetTracker {
  #limitPico: number
  #limitUsd: number
  readonly period: BudgetPeriod
  #spentPico = 0
  /** Start of the period `#spentPico` belongs to; -Infinity until seeded or first used. */
  #start = -Infinity
  #end: number | null = -Infinity
  #seeded = false

  /** A limit of 0 refuses every request. */
  constructor(limitUsd: number, period: BudgetPeriod) {
    this.#limitUsd = checkLimit(limitUsd)
    this.#limitPico = toPico(limitUsd)
    this.period = period
  }

  get limitUsd(): number {
    return this.#limitUsd
  }

  get spentUsd(): number {
    return this.#spentPico / PICO_PER_USD
  }

  /** False until `seed`: the owner loads the period's spend from the database once, before admitting. */
  get seeded(): boolean {
    return this.#seeded
  }

  /** Start of the period holding `nowEpochMs`. */
  periodStart(nowEpochMs: number): number {
    return periodStart(this.period, nowEpochMs)
  }

  /**
   * What the usage ledger says was spent since `periodStartMs` (which the owner got from
   * `periodStart`). Replaces the in-memory spend. A seed for a period that has since ended is
   * dropped at the next call that reads the clock.
   */
  seed(spentUsd: number, periodStartMs: number): void {
    this.#spentPico = Math.max(0, toPico(spentUsd))
    // Normalised, so a 'total' budget seeded with any instant is not taken for a period change.
    this.#start = periodStart(this.period, periodStartMs)
    this.#end = nextPeriodStart(this.period, this.#start)
    this.#seeded = true
  }

  /** Whether a request must be refused now: the spend has reached the limit. */
  wouldExceed(nowEpochMs: number): boolean {
    this.#roll(nowEpochMs)
    return this.#spentPico >= this.#limitPico
  }

  /** Adds a finished request's cost (USD) to the period it finished in. */
  charge(nowEpochMs: number, costUsd: number): void {
    this.#roll(nowEpochMs)
    if (costUsd > 0) this.#spentPico += toPico(costUsd)
  }

  /** ms until the next period starts and the spend is back at 0; null for 'total'. */
  retryAfterMs(nowEpochMs: number): number | null {
    this.#roll(nowEpochMs)
    return this.#end === null ? null : this.#end - nowEpochMs
  }

  /** A new limit, same period: the spend so far still counts. */
  setLimit(limitUsd: number): void {
    this.#limitUsd = checkLimit(limitUsd)
    this.#limitPico = toPico(limitUsd)
  }

  #roll(nowEpochMs: number): void {
    // A wall clock stepped back (NTP) keeps the current period: starting an earlier one from 0
    // would hand out its budget a second time.
    if (nowEpochMs < this.#start || (this.#end !== null && nowEpochMs < this.#end)) return
    const start = periodStart(this.period, nowEpochMs)
    if (start === this.#start) return
    // A new period (or the first use): nothing spent in it yet.
    this.#start = start
    this.#end = nextPeriodStart(this.period, start)
    this.#spentPico = 0
  }
}

function checkLimit(limitUsd: number): number {
  if (!(limitUsd >= 0) || !Number.isFinite(limitUsd)) throw new RangeError(`a budget must be a non-negative number of USD, got ${limitUsd}`)
  return limitUsd
}
