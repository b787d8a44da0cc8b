import { BudgetTracker } from './budget.js'
import { ConsumerLimiter, type LimitDimension } from './consumer-limiter.js'
import { compileModelPatterns, type ModelMatcher } from './model-match.js'
import { type EffectiveSettings, samePatterns, sameSettings } from './settings.js'

/** What the admit stage answers; one object per consumer, rewritten by every admit. */
export interface ConsumerDecision {
  ok: boolean
  /** The error code of a refusal (DESIGN.md §7), null when ok. */
  code: 'rate_limit_exceeded' | 'budget_exceeded' | null
  refusedBy: LimitDimension | 'budget' | null
  /** The request's token estimate alone exceeds the TPM. */
  tooLarge: boolean
  /** ok: 0. Refused: ms until a retry can succeed; null when none can (tooLarge, a spent 'total' budget). */
  retryAfterMs: number | null
}

/**
 * Everything sluice tracks about one consumer's limits. Rates use the monotonic clock (`now`),
 * the budget the wall clock (`nowEpochMs`): budget periods are UTC calendar periods.
 */
export class ConsumerLimits {
  #settings: EffectiveSettings
  readonly limiter: ConsumerLimiter
  #budget: BudgetTracker | null
  #models: ModelMatcher
  /** Monotonic ms of the last obtain; the registry's idle sweep reads it. */
  lastUsedAt: number
  readonly decision: ConsumerDecision = { ok: true, code: null, refusedBy: null, tooLarge: false, retryAfterMs: 0 }

  constructor(readonly id: string, settings: EffectiveSettings, now: number) {
    this.#settings = settings
    this.limiter = new ConsumerLimiter(settings)
    this.#budget = budgetFor(settings)
    this.#models = compileModelPatterns(settings.models)
    this.lastUsedAt = now
  }

  get settings(): EffectiveSettings {
    return this.#settings
  }

  /** null when the consumer has no budget. Check `seeded` on a new one and seed it from the usage ledger. */
  get budget(): BudgetTracker | null {
    return this.#budget
  }

  get models(): ModelMatcher {
    return this.#models
  }

  /**
   * Budget first, then RPM and TPM together. A request refused for budget takes no rate slot,
   * and one refused for rate is not counted against the budget (nothing is charged before usage).
   */
  admit(now: number, nowEpochMs: number, estimatedTokens: number): ConsumerDecision {
    const d = this.decision
    const budget = this.#budget
    if (budget !== null && budget.wouldExceed(nowEpochMs)) {
      d.ok = false
      d.code = 'budget_exceeded'
      d.refusedBy = 'budget'
      d.tooLarge = false
      d.retryAfterMs = budget.retryAfterMs(nowEpochMs)
      return d
    }
    const r = this.limiter.admit(now, estimatedTokens)
    d.ok = r.ok
    d.code = r.ok ? null : 'rate_limit_exceeded'
    d.refusedBy = r.refusedBy
    d.tooLarge = r.tooLarge
    d.retryAfterMs = r.retryAfterMs
    return d
  }

  /**
   * Once a request's usage is known (or known to be none): tokens reconciled with what admit
   * charged, its cost added to the budget.
   */
  settle(now: number, nowEpochMs: number, chargedTokens: number, usedTokens: number, costUsd: number): void {
    this.limiter.settle(now, chargedTokens, usedTokens)
    this.#budget?.charge(nowEpochMs, costUsd)
  }

  /** True when forgetting this consumer loses nothing: both rates are full again. */
  atRest(now: number): boolean {
    const r = this.limiter.requests
    const t = this.limiter.tokens
    return (r === null || r.peek(now).resetMs === 0) && (t === null || t.peek(now).resetMs === 0)
  }

  /** New settings (a reload, an admin change). Usage so far carries over wherever the limit kind is the same. */
  apply(now: number, settings: EffectiveSettings): void {
    const old = this.#settings
    this.#settings = settings
    if (sameSettings(old, settings)) return
    this.limiter.reconfigure(now, settings)
    if (settings.budgetUsd === null) this.#budget = null
    else if (this.#budget === null || settings.budgetPeriod !== old.budgetPeriod) this.#budget = budgetFor(settings)
    else this.#budget.setLimit(settings.budgetUsd)
    if (!samePatterns(old.models, settings.models)) this.#models = compileModelPatterns(settings.models)
  }
}

export interface LimiterRegistryOptions {
  /** Most consumers kept; the least recently used goes first. Default 10 000. */
  readonly maxEntries?: number
}

/**
 * Consumers' limits by consumer id, created on first use, reconfigured when their settings
 * change, and forgotten when idle (`sweep`, which the owner calls on a timer) or when the
 * bound is reached (least recently used first). Forgetting a consumer whose bucket is not yet
 * full gives it a full one on return, so the bound should sit well above the number of
 * consumers active within a minute; the sweep forgets only consumers at rest. A budget comes
 * back unseeded and is seeded again from the usage ledger.
 */
export class LimiterRegistry {
  readonly #entries = new Map<string, ConsumerLimits>()
  readonly #max: number

  constructor(opts: LimiterRegistryOptions = {}) {
    this.#max = opts.maxEntries ?? 10_000
    if (!(this.#max >= 1)) throw new RangeError(`maxEntries must be at least 1, got ${this.#max}`)
  }

  get size(): number {
    return this.#entries.size
  }

  /** The consumer's limits under `settings` (usually the same frozen object every time: a reference check). */
  obtain(consumerId: string, settings: EffectiveSettings, now: number): ConsumerLimits {
    const map = this.#entries
    let entry = map.get(consumerId)
    if (entry === undefined) {
      entry = new ConsumerLimits(consumerId, settings, now)
      map.set(consumerId, entry)
      // A Map iterates in insertion order, and obtain re-inserts, so the first key is the least recently used.
      if (map.size > this.#max) {
        const oldest = map.keys().next().value
        if (oldest !== undefined) map.delete(oldest)
      }
      return entry
    }
    if (entry.settings !== settings) entry.apply(now, settings)
    entry.lastUsedAt = now
    map.delete(consumerId)
    map.set(consumerId, entry)
    return entry
  }

  get(consumerId: string): ConsumerLimits | undefined {
    return this.#entries.get(consumerId)
  }

  delete(consumerId: string): boolean {
    return this.#entries.delete(consumerId)
  }

  /** Forgets consumers unused for `idleMs` whose rates are full again; returns how many. */
  sweep(now: number, idleMs: number): number {
    let removed = 0
    for (const [id, e] of this.#entries) {
      if (now - e.lastUsedAt >= idleMs && e.atRest(now)) {
        this.#entries.delete(id)
        removed++
      }
    }
    return removed
  }

  values(): IterableIterator<ConsumerLimits> {
    return this.#entries.values()
  }
}

function budgetFor(s: EffectiveSettings): BudgetTracker | null {
  return s.budgetUsd === null ? null : new BudgetTracker(s.budgetUsd, s.budgetPeriod)
}
