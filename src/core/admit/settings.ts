import type { Priority, priorityNames } from '../queue/priority.js'
import type { BudgetPeriod } from './budget.js'

export type PriorityName = (typeof priorityNames)[number]

/**
 * A tier, or one consumer's overrides of its tier, as configured (snake_case, like sluice.yaml).
 * A field left out inherits; null removes a limit the tier sets (an override `rpm: null` makes
 * that consumer unlimited in requests).
 */
export interface ConsumerSettingsInput {
  readonly rpm?: number | null
  readonly tpm?: number | null
  readonly budget_usd?: number | null
  readonly budget_period?: BudgetPeriod
  readonly models?: readonly string[]
  readonly priority?: { readonly default?: PriorityName; readonly max?: PriorityName }
  readonly weight?: number
}

/** What applies to one consumer: its tier merged with its overrides, frozen. */
export interface EffectiveSettings {
  /** Requests per minute; null = unlimited. */
  readonly rpm: number | null
  /** Tokens per minute; null = unlimited. */
  readonly tpm: number | null
  /** Spend limit per `budgetPeriod`, USD; null = none. */
  readonly budgetUsd: number | null
  readonly budgetPeriod: BudgetPeriod
  /** Allowed model patterns (see model-match.ts), frozen. */
  readonly models: readonly string[]
  /** Priority of a request without X-Priority. Never more urgent than `priorityMax`. */
  readonly priorityDefault: Priority
  /** The most urgent priority this consumer may ask for. */
  readonly priorityMax: Priority
  /** Fair-share weight in the queue (the VTC divides service by it). */
  readonly weight: number
}

const priorityOf: Readonly<Record<PriorityName, Priority>> = { urgent: 0, high: 1, normal: 2, low: 3 }

/**
 * Without a tier: no limits, every model, normal priority, and — as before consumers existed —
 * any priority a client asks for.
 */
export const defaultSettings: EffectiveSettings = Object.freeze({
  rpm: null,
  tpm: null,
  budgetUsd: null,
  budgetPeriod: 'month',
  models: Object.freeze(['*']),
  priorityDefault: 2,
  priorityMax: 0,
  weight: 1,
})

/**
 * The tier with the consumer's overrides on top, field by field (the priority's default and max
 * separately). An overriding `models` list replaces the tier's rather than adding to it, so an
 * override can narrow access as well as widen it. A default more urgent than the max (a tier's
 * `default: high` under an override's `max: normal`) is lowered to the max.
 */
export function effectiveSettings(tier: ConsumerSettingsInput | null | undefined, overrides?: ConsumerSettingsInput | null): EffectiveSettings {
  const t = tier ?? {}
  const o = overrides ?? {}
  const d = defaultSettings
  const pick = <K extends keyof ConsumerSettingsInput>(k: K): ConsumerSettingsInput[K] => (o[k] !== undefined ? o[k] : t[k])
  const maxName = o.priority?.max ?? t.priority?.max
  const defaultName = o.priority?.default ?? t.priority?.default
  const priorityMax = maxName === undefined ? d.priorityMax : priorityOf[maxName]
  const requested = defaultName === undefined ? d.priorityDefault : priorityOf[defaultName]
  const models = pick('models')
  const budgetPeriod = pick('budget_period')
  const weight = pick('weight')
  return Object.freeze({
    rpm: nullable(pick('rpm'), d.rpm),
    tpm: nullable(pick('tpm'), d.tpm),
    budgetUsd: nullable(pick('budget_usd'), d.budgetUsd),
    budgetPeriod: budgetPeriod ?? d.budgetPeriod,
    models: models === undefined ? d.models : Object.freeze([...models]),
    // 0 is the most urgent, so "no more urgent than max" is the larger number.
    priorityDefault: Math.max(requested, priorityMax) as Priority,
    priorityMax,
    weight: weight ?? d.weight,
  })
}

/** The priority a request runs at: X-Priority (null when absent) capped by the consumer's max. */
export function effectivePriority(settings: EffectiveSettings, requested: Priority | null): Priority {
  if (requested === null) return settings.priorityDefault
  return Math.max(requested, settings.priorityMax) as Priority
}

/** Whether two settings put the same limits on a consumer (the registry reconfigures only then). */
export function sameSettings(a: EffectiveSettings, b: EffectiveSettings): boolean {
  return (
    a === b ||
    (a.rpm === b.rpm &&
      a.tpm === b.tpm &&
      a.budgetUsd === b.budgetUsd &&
      a.budgetPeriod === b.budgetPeriod &&
      a.priorityDefault === b.priorityDefault &&
      a.priorityMax === b.priorityMax &&
      a.weight === b.weight &&
      samePatterns(a.models, b.models))
  )
}

const shares = new WeakMap<EffectiveSettings, { readonly instances: number; readonly share: EffectiveSettings }>()

/**
 * One instance's share of a consumer's rate limits while the instances cannot count together
 * (shared state unreachable): RPM and TPM ÷ the live instances last seen, at least 1, so N
 * instances together stay within the limit. The budget is not divided: the spend is a slow,
 * period-long sum that each instance keeps counting from the last shared figure. Memoised per
 * settings object, so the registry sees the same share until the count changes.
 */
export function instanceShare(settings: EffectiveSettings, instances: number): EffectiveSettings {
  const n = Math.max(1, Math.floor(instances))
  if (n === 1) return settings
  const known = shares.get(settings)
  if (known !== undefined && known.instances === n) return known.share
  const part = (limit: number | null): number | null => (limit === null ? null : Math.max(1, Math.floor(limit / n)))
  const share = Object.freeze({ ...settings, rpm: part(settings.rpm), tpm: part(settings.tpm) })
  shares.set(settings, { instances: n, share })
  return share
}

export function samePatterns(a: readonly string[], b: readonly string[]): boolean {
  return a === b || (a.length === b.length && a.every((p, i) => p === b[i]))
}

function nullable<T>(value: T | null | undefined, fallback: T | null): T | null {
  return value === undefined ? fallback : value
}
