import { periodStart } from '../core/admit/budget.js'
import { effectiveSettings, type ConsumerSettingsInput } from '../core/admit/settings.js'
import { SluiceError } from '../errors.js'
import { dayMs, type ConsumerRow, type DailyUsage, type UsageFilter, type UsageTotals } from '../store/types.js'
import { iso, ok } from './consumers.js'
import type { Router } from './router.js'
import { count, describeTotals, filterParams, single, type UsageDeps } from './usage.js'

// The usage ledger per consumer and UTC day (the days budgets count in), for the dashboard's
// consumers panel: requests, tokens and spend over the last days, and each budget against what
// its period has spent.

const base = '/api/admin'

export interface DailyUsageDeps extends UsageDeps {
  /** The tiers of the running config, for each consumer's budget. */
  readonly tiers: () => ReadonlyMap<string, ConsumerSettingsInput>
  /** Wall-clock epoch ms: which day is today. */
  readonly now: () => number
}

const daily = { default: 14, max: 92 } as const
const dailyParams = {
  days: `how many UTC days, today included, 1 to ${daily.max}; default ${daily.default}`,
  consumer: filterParams.consumer,
  model: filterParams.model,
} as const

export function addDailyUsageRoute(router: Router, deps: DailyUsageDeps): void {
  router.add('GET', `${base}/usage/daily`, { role: 'read', summary: 'Requests, tokens and spend per consumer and UTC day over the last days, with each consumer\'s budget and what it has spent of it', query: dailyParams }, async (r) => {
    for (const name of r.query.keys()) {
      if (!(name in dailyParams)) throw new SluiceError('invalid_field', [name, `unknown query parameter (the parameters are ${Object.keys(dailyParams).join(', ')})`], { param: name })
    }
    const now = deps.now()
    const today = Math.floor(now / dayMs) * dayMs
    const from = today - (count(r, 'days', daily.default, 1, daily.max) - 1) * dayMs
    const name = single(r, 'consumer')
    const model = single(r, 'model')
    const only = name === null ? null : ((await deps.consumers.getByName(name)) ?? (await deps.consumers.get(name)))
    const filter: UsageFilter = { from, ...(name === null ? {} : { consumerId: only?.id ?? name }), ...(model === null ? {} : { model }) }
    const byConsumer = new Map<string | null, DailyUsage[]>()
    for (const d of await deps.usage.daily(filter)) {
      const mine = byConsumer.get(d.consumerId) ?? []
      mine.push(d)
      byConsumer.set(d.consumerId, mine)
    }
    const consumers = name === null ? await deps.consumers.list() : only === null ? [] : [only]
    const days = Array.from({ length: (today - from) / dayMs + 1 }, (_, i) => utcDate(from + i * dayMs))
    const data = []
    for (const c of consumers) {
      data.push({ consumer_id: c.id, name: c.name, ...(await usageOf(c, byConsumer.get(c.id) ?? [])) })
      byConsumer.delete(c.id)
    }
    // Records outlive their consumer, and requests without one (auth off) have none: listed by id.
    for (const [id, mine] of byConsumer) data.push({ consumer_id: id, name: null, ...(await usageOf(null, mine)) })
    return ok({ object: 'list', days, data })

    async function usageOf(c: ConsumerRow | null, mine: readonly DailyUsage[]) {
      return { days: mine.map((d) => ({ day: utcDate(d.day), ...describeTotals(d) })), totals: describeTotals(sumOf(mine)), budget: c === null ? null : await budgetOf(c, mine) }
    }
    /** Spend is every model's, whatever `model` asks for: a budget counts them all. */
    async function budgetOf(c: ConsumerRow, mine: readonly DailyUsage[]) {
      const settings = effectiveSettings(c.tier === null ? null : deps.tiers().get(c.tier), c.overrides as ConsumerSettingsInput | null)
      if (settings.budgetUsd === null) return null
      const start = periodStart(settings.budgetPeriod, now)
      // The days already read cover a period that started within them; an older one is asked for.
      const spent = start >= from && model === null ? sumOf(mine.filter((d) => d.day >= start)).costUsd : await deps.usage.spentSince(c.id, start)
      return { usd: settings.budgetUsd, period: settings.budgetPeriod, period_start: iso(start), spent_usd: spent }
    }
  })
}

function sumOf(days: readonly UsageTotals[]): UsageTotals {
  const t = { requests: 0, promptTokens: 0, completionTokens: 0, costUsd: 0 }
  for (const d of days) {
    t.requests += d.requests
    t.promptTokens += d.promptTokens
    t.completionTokens += d.completionTokens
    t.costUsd += d.costUsd
  }
  return t
}

/** 2026-12-07: a UTC day, as the daily route names it. */
function utcDate(ms: number): string {
  return iso(ms).slice(0, 10)
}
