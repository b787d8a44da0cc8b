import type { Consumer, RequestContext, Stage } from '../../context.js'
import { defaultSettings, type ConsumerLimits, type LimiterRegistry } from '../../core/admit/index.js'
import type { Clock } from '../../core/clock.js'
import type { Priority } from '../../core/queue/index.js'
import { SluiceError } from '../../errors.js'
import { requestCost } from '../../telemetry/cost.js'

export interface AdmitPorts {
  readonly limits: LimiterRegistry
  /** Monotonic ms, for the rates. */
  readonly clock: Clock
  /** Wall-clock epoch ms, for budget periods. */
  readonly epoch: () => number
  /** USD a consumer has spent since an epoch ms, from the usage ledger: seeds a budget. */
  readonly spentSince: (consumerId: string, since: number) => Promise<number>
}

/**
 * The caller's own limits, before its request may wait for an upstream: its tier's models (403),
 * its priority cap, its RPM and TPM (429 rate_limit_exceeded) and its budget (429
 * budget_exceeded). Every answer carries OpenAI's x-ratelimit-* headers for the caller's real
 * standing. Tokens are charged from an estimate here and settled from usage at the end.
 */
export function admit(ports: AdmitPorts): Stage {
  const { clock } = ports
  // Not async: a caller without limits passes through without a promise of its own.
  return function admitStage(ctx, next) {
    const consumer = ctx.consumer
    if (consumer === null || consumer.settings === defaultSettings) return next()
    return limited(ctx, next, consumer)
  }

  async function limited(ctx: RequestContext, next: () => Promise<void>, consumer: Consumer): Promise<void> {
    const settings = consumer.settings
    const now = clock.now()
    const limits = ports.limits.obtain(consumer.id, settings, now)
    ctx.priority = cappedPriority(ctx, settings.priorityDefault, settings.priorityMax)
    const model = ctx.model ?? (ctx.endpoint === 'passthrough' && !allowsEverything(settings.models) ? passthroughModel(ctx) : null)
    // An alias or a wildcard match is allowed when the route's own name is.
    if (model !== null && !limits.models.allows(model) && !(ctx.route !== null && limits.models.allows(ctx.route.name))) {
      throw new SluiceError('model_not_allowed', [model, consumer.tier === null ? '' : ` (${consumer.tier})`], { param: 'model' })
    }
    const budget = limits.budget
    if (budget !== null && !budget.seeded) {
      const start = budget.periodStart(ports.epoch())
      budget.seed(await ports.spentSince(consumer.id, start).catch(budgetUnknown), start)
    }
    const tokens = ctx.endpoint === 'passthrough' ? 0 : charge(ctx)
    const decision = limits.admit(now, ports.epoch(), tokens)
    setHeaders(ctx, limits.limiter.headers(now))
    if (!decision.ok) throw refusal(consumer.name, limits, decision.code, decision.tooLarge, decision.retryAfterMs)
    try {
      await next()
    } finally {
      settle(ctx, limits, tokens, clock.now(), ports.epoch())
    }
  }
}

/** Passthrough bodies are read for their model only when the tier restricts models, and only this large. */
const maxModelScan = 1024 * 1024

function allowsEverything(models: readonly string[]): boolean {
  return models.includes('*')
}

/** The top-level `model` of a passthrough JSON body (the Responses API, assistants …), else null. */
function passthroughModel(ctx: RequestContext): string | null {
  const body = ctx.body
  const type = ctx.req.headers['content-type']
  if (body === null || body.length === 0 || body.length > maxModelScan || typeof type !== 'string' || !type.includes('json')) return null
  try {
    const json = JSON.parse(body.toString('utf8')) as unknown
    const model = typeof json === 'object' && json !== null ? (json as Record<string, unknown>).model : undefined
    return typeof model === 'string' ? model : null
  } catch {
    return null // not JSON: the upstream will say so
  }
}

const periodWords = { day: 'daily', week: 'weekly', month: 'monthly', total: 'total' } as const

function charge(ctx: RequestContext): number {
  const { input, output } = ctx.tokenEstimate()
  return input + output
}

/** X-Priority, or the tier's default; never more urgent than the tier allows. */
function cappedPriority(ctx: RequestContext, fallback: Priority, max: Priority): Priority {
  const asked = ctx.requestedPriority() ?? fallback
  return asked < max ? max : asked
}

function setHeaders(ctx: RequestContext, pairs: readonly string[]): void {
  const res = ctx.res
  if (res.headersSent) return
  for (let i = 0; i + 1 < pairs.length; i += 2) res.setHeader(pairs[i] as string, pairs[i + 1] as string)
}

function refusal(name: string, limits: ConsumerLimits, code: 'rate_limit_exceeded' | 'budget_exceeded' | null, tooLarge: boolean, retryAfterMs: number | null): SluiceError {
  const opts = retryAfterMs === null ? {} : { retryAfter: Math.max(1, Math.ceil(retryAfterMs / 1000)) }
  if (code === 'budget_exceeded') {
    const b = limits.budget
    const what = b === null ? 'budget' : `${periodWords[b.period]} budget of $${b.limitUsd}`
    return new SluiceError('budget_exceeded', [name, `its ${what} is spent`], opts)
  }
  if (tooLarge) return new SluiceError('rate_limit_exceeded', [name, "the request's token estimate (prompt + max_tokens) alone exceeds its tokens per minute; lower max_tokens"], opts)
  const dimension = limits.decision.refusedBy === 'tokens' ? 'tokens' : 'requests'
  return new SluiceError('rate_limit_exceeded', [name, `its tier allows no more ${dimension} per minute now`], opts)
}

/** Tokens charged at admission are settled from what the upstream reported, and the cost is charged to the budget. */
function settle(ctx: RequestContext, limits: ConsumerLimits, charged: number, now: number, epochNow: number): void {
  const usage = ctx.usage
  const prompt = usage?.promptTokens ?? null
  const completion = usage?.completionTokens ?? 0
  // Never sent: nothing used. Sent without a usage report: the estimate stands.
  const used = ctx.upstreamStartedAt === 0 ? 0 : prompt === null ? charged : prompt + completion
  limits.settle(now, epochNow, charged, used, requestCost(ctx))
}

/** A budget the ledger cannot be asked about cannot be enforced: refuse for now rather than spend blind (or answer 500). */
function budgetUnknown(err: unknown): never {
  throw new SluiceError('auth_unavailable', [], { retryAfter: 5, cause: err })
}
