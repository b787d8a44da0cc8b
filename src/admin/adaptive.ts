import type { ConcurrencyLimit } from '../core/limit/concurrency-limit.js'
import type { LimitRegistry } from '../core/limit/registry.js'
import type { LimitAdjustment } from '../store/types.js'
import { SluiceError } from '../errors.js'
import type { AdminRequest, AdminResponse, Router } from './router.js'

// The adaptive-concurrency admin API, with Aether's paths and JSON fields so its users can
// point their tools at sluice. Key ids are `provider~key`.

const base = '/api/admin/adaptive'
const fixedLimitRange = { min: 1, max: 100 } as const
const summaryAdjustments = 10

export interface AdaptiveDeps {
  readonly limits: LimitRegistry
  /** Resolves once every change so far is in the database. */
  readonly persist: () => Promise<void>
  /** A limit's mode or value changed: waiting requests may be able to go. */
  readonly changed: (limit: ConcurrencyLimit) => void
  /** Wall-clock epoch ms. */
  readonly now: () => number
  /** A mode change is in the database: the other instances read it back (state: redis). */
  readonly told?: (limit: ConcurrencyLimit) => void
}

export function addAdaptiveRoutes(router: Router, deps: AdaptiveDeps): void {
  const { limits } = deps
  const find = (r: AdminRequest): ConcurrencyLimit => {
    const id = r.params.key_id as string
    const limit = limits.get(id)
    if (!limit) throw new SluiceError('key_not_found', [id])
    return limit
  }
  const apply = async (limit: ConcurrencyLimit, fixed: number | null): Promise<void> => {
    limits.override(limit.id, fixed, deps.now())
    deps.changed(limit)
    await deps.persist()
    deps.told?.(limit)
  }

  router.add('GET', `${base}/keys`, { role: 'read', summary: 'Every key\'s concurrency mode, limits and 429 counts', query: { endpoint_id: 'only the keys of this provider' } }, (r) => {
    const provider = r.query.get('endpoint_id')
    const keys = [...limits.all()].filter((l) => provider === null || l.provider === provider)
    return ok(keys.map(describeKey))
  })

  router.add('PATCH', `${base}/keys/{key_id}/mode`, { role: 'admin', summary: 'Learn the key\'s limit ({"enabled": true}) or fix it ({"enabled": false, "fixed_limit": N})', body: { type: 'object', properties: { enabled: { type: 'boolean' }, fixed_limit: { type: 'integer', minimum: 1, maximum: 100 } }, required: ['enabled'] } }, async (r) => {
    const limit = find(r)
    const body = await r.body()
    if (!isRecord(body)) throw new SluiceError('invalid_json', ['expected a JSON object such as {"enabled": false, "fixed_limit": 10}'])
    const enabled = body.enabled
    if (typeof enabled !== 'boolean') throw new SluiceError('invalid_field', ['enabled', 'expected true (adaptive) or false (fixed)'], { param: 'enabled' })
    let fixed: number | null = null
    if (!enabled) {
      if (body.fixed_limit === undefined || body.fixed_limit === null) {
        throw new SluiceError('invalid_field', ['fixed_limit', 'turning adaptive mode off needs fixed_limit, the number of concurrent requests to allow'], { param: 'fixed_limit' })
      }
      fixed = checkLimit(body.fixed_limit, 'fixed_limit')
    }
    await apply(limit, fixed)
    return ok({
      message: enabled ? 'adaptive mode enabled' : `fixed mode at ${fixed} concurrent requests`,
      key_id: limit.id,
      is_adaptive: limit.adaptive,
      max_concurrent: limit.fixed,
      effective_limit: limit.effective,
    })
  })

  router.add('GET', `${base}/keys/{key_id}/stats`, { role: 'read', summary: 'One key in detail, with its recent adjustments' }, (r) => {
    const limit = find(r)
    return ok({
      adaptive_mode: limit.adaptive,
      max_concurrent: limit.fixed,
      effective_limit: limit.effective,
      learned_limit: limit.learned,
      concurrent_429_count: limit.concurrent429Count,
      rpm_429_count: limit.rpm429Count,
      tpm_429_count: limit.tpm429Count,
      last_429_at: limit.last429At === null ? null : new Date(limit.last429At).toISOString(),
      last_429_type: limit.last429Type,
      in_flight: limit.inflight,
      adjustment_count: limit.history.length,
      recent_adjustments: limit.history.slice(-summaryAdjustments),
    })
  })

  router.add('DELETE', `${base}/keys/{key_id}/learning`, { role: 'admin', summary: 'Forget the learned limit, counters and history' }, async (r) => {
    const limit = find(r)
    limit.resetLearning()
    deps.changed(limit)
    await deps.persist()
    return ok({ message: 'learned limit, counters and history cleared', key_id: limit.id, is_adaptive: limit.adaptive, effective_limit: limit.effective })
  })

  router.add('PATCH', `${base}/keys/{key_id}/limit`, { role: 'admin', summary: 'Fix the key\'s limit', query: { limit: 'concurrent requests, 1 to 100' } }, async (r) => {
    const limit = find(r)
    const raw = r.query.get('limit')
    if (raw === null) throw new SluiceError('invalid_field', ['limit', 'add ?limit=N to the URL, N from 1 to 100'], { param: 'limit' })
    const value = checkLimit(/^\d+$/.test(raw) ? Number(raw) : raw, 'limit')
    const previousMode = limit.adaptive ? 'adaptive' : 'fixed'
    await apply(limit, value)
    return ok({
      message: `fixed mode at ${value} concurrent requests`,
      key_id: limit.id,
      is_adaptive: false,
      max_concurrent: value,
      effective_limit: limit.effective,
      previous_mode: previousMode,
    })
  })

  router.add('GET', `${base}/summary`, { role: 'read', summary: 'Totals and the newest adjustments across keys' }, () => {
    const all = [...limits.all()]
    const adjustments: (LimitAdjustment & { key_id: string })[] = []
    // Each history newest first, and a stable sort: changes in the same millisecond keep that order.
    for (const l of all) for (let i = l.history.length - 1; i >= 0; i--) adjustments.push({ ...(l.history[i] as LimitAdjustment), key_id: l.id })
    adjustments.sort((a, b) => (a.timestamp < b.timestamp ? 1 : a.timestamp > b.timestamp ? -1 : 0))
    return ok({
      total_adaptive_keys: all.filter((l) => l.adaptive).length,
      total_concurrent_429_errors: sum(all, (l) => l.concurrent429Count),
      total_rpm_429_errors: sum(all, (l) => l.rpm429Count),
      total_adjustments: sum(all, (l) => l.history.length),
      recent_adjustments: adjustments.slice(0, summaryAdjustments),
    })
  })
}

function describeKey(l: ConcurrencyLimit) {
  return {
    id: l.id,
    name: l.key,
    endpoint_id: l.provider,
    is_adaptive: l.adaptive,
    max_concurrent: l.fixed,
    effective_limit: l.effective,
    learned_max_concurrent: l.learned,
    concurrent_429_count: l.concurrent429Count,
    rpm_429_count: l.rpm429Count,
  }
}

function checkLimit(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < fixedLimitRange.min || value > fixedLimitRange.max) {
    throw new SluiceError('invalid_field', [field, `expected a whole number from ${fixedLimitRange.min} to ${fixedLimitRange.max}, got ${shown(value)}`], { param: field })
  }
  return value
}

/** A client's value quoted back, cut short: it may be anything. */
function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value)
  return text.length > 40 ? `${text.slice(0, 40)}…` : text
}

function ok(body: unknown): AdminResponse {
  return { status: 200, body }
}

function sum<T>(items: readonly T[], value: (item: T) => number): number {
  let total = 0
  for (const item of items) total += value(item)
  return total
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
