import type { Consumer, RequestContext, Stage } from '../../context.js'
import { defaultSettings, formatResetDuration, instanceShare, rateLimitHeaderNames, usdToPico, type BudgetPeriod, type BudgetTracker, type ConsumerLimits, type EffectiveSettings, type LimiterRegistry } from '../../core/admit/index.js'
import type { Clock } from '../../core/clock.js'
import type { Priority } from '../../core/queue/index.js'
import { SluiceError } from '../../errors.js'
import type { ConsumerRates, RateStanding, Settlement, SharedAdmitDecision } from '../../state/consumer-rates.js'
import { StateUnavailableError } from '../../state/errors.js'
import type { StateHealth } from '../../state/health.js'
import type { SpendCounters } from '../../state/spend.js'
import { requestCost } from '../../telemetry/cost.js'

export interface AdmitPorts {
  readonly limits: LimiterRegistry
  /** Monotonic ms, for the rates. */
  readonly clock: Clock
  /** Wall-clock epoch ms, for budget periods. */
  readonly epoch: () => number
  /** USD a consumer has spent since an epoch ms, from the usage ledger: seeds a budget. */
  readonly spentSince: (consumerId: string, since: number) => Promise<number>
  /** `state:` on Redis: the limits counted across every instance. Absent or null: this process counts alone (`state: memory`). */
  readonly shared?: SharedConsumerLimits | null
}

/** The consumer limits several instances count together (src/state), and what to do when they cannot. */
export interface SharedConsumerLimits {
  readonly rates: ConsumerRates
  readonly spend: SpendCounters
  /** While down, each instance keeps to its share of every rate limit (instanceShare). */
  readonly health: StateHealth
  /** Live instances when last seen, at least 1: what a limit is divided by while shared state is down. */
  instances(): number
  /** A shared call failed and this request fell back to the share. */
  failed(err: unknown): void
  /** A finished request's cost that could not be added to the shared spend: charged once shared state answers again. */
  owe(consumerId: string, period: BudgetPeriod, pico: number): void
  /** Sends a finished request's settlement (batched with others: nobody waits for it). */
  settle(consumerId: string, settlement: Settlement): void
}

/**
 * The caller's own limits, before its request may wait for an upstream: its tier's models (403),
 * its priority cap, its RPM and TPM (429 rate_limit_exceeded) and its budget (429
 * budget_exceeded). Every answer carries OpenAI's x-ratelimit-* headers for the caller's real
 * standing. Tokens are charged from an estimate here and settled from usage at the end.
 *
 * With shared state the budget, RPM and TPM are one script on Redis (one round trip before the
 * upstream call; the settlement after it goes in a batch with other requests', not awaited), so
 * the headers count every instance's requests. When Redis cannot answer, the request is admitted
 * against this instance's share of the limits instead, with the in-process limiters — never
 * waiting on Redis beyond the state timeout.
 */
export function admit(ports: AdmitPorts): Stage {
  const { clock } = ports
  const shared = ports.shared ?? null
  /** Consumers whose shared spend is being seeded from the ledger now. */
  const reseeding = new Set<string>()
  // Not async: a caller without limits passes through without a promise of its own.
  return function admitStage(ctx, next) {
    const consumer = ctx.consumer
    if (consumer === null || consumer.settings === defaultSettings) return next()
    const settings = consumer.settings
    // Nothing to count together (a consumer without a tier, or a tier of models only): no round trip.
    if (shared === null || (settings.rpm === null && settings.tpm === null && settings.budgetUsd === null)) return limited(ctx, next, consumer, settings)
    if (shared.health.up) return limitedTogether(ctx, next, consumer, shared)
    return limited(ctx, next, consumer, instanceShare(settings, shared.instances()), shared)
  }

  /** The consumer's limits in this process, and its models and priority checked (403 when the model is not allowed). */
  function prepare(ctx: RequestContext, consumer: Consumer, settings: EffectiveSettings, now: number): ConsumerLimits {
    const limits = ports.limits.obtain(consumer.id, settings, now)
    ctx.priority = cappedPriority(ctx, settings.priorityDefault, settings.priorityMax)
    const model = ctx.model ?? (ctx.endpoint === 'passthrough' && !allowsEverything(settings.models) ? passthroughModel(ctx) : null)
    // An alias or a wildcard match is allowed when the route's own name is.
    if (model !== null && !limits.models.allows(model) && !(ctx.route !== null && limits.models.allows(ctx.route.name))) {
      throw new SluiceError('model_not_allowed', [model, consumer.tier === null ? '' : ` (${consumer.tier})`], { param: 'model' })
    }
    return limits
  }

  /**
   * Counted in this process: every limit with `state: memory`, this instance's share while
   * shared state is down (`owing`: the spend is then kept for the shared counters).
   */
  async function limited(ctx: RequestContext, next: () => Promise<void>, consumer: Consumer, settings: EffectiveSettings, owing: SharedConsumerLimits | null = null): Promise<void> {
    const limits = prepare(ctx, consumer, settings, clock.now())
    if (limits.budget !== null && !limits.budget.seeded) await seedHere(consumer, limits.budget)
    const tokens = ctx.endpoint === 'passthrough' ? 0 : charge(ctx)
    admitHere(ctx, consumer, limits, tokens)
    try {
      await next()
    } finally {
      settleHere(ctx, consumer, limits, tokens, owing)
    }
  }

  /** The budget's spend this period from the usage ledger, once per consumer and process. */
  async function seedHere(consumer: Consumer, budget: BudgetTracker): Promise<void> {
    const start = budget.periodStart(ports.epoch())
    budget.seed(await ports.spentSince(consumer.id, start).catch(budgetUnknown), start)
  }

  /** Charges the request to the in-process limiters and sets the headers; throws the caller's 429. */
  function admitHere(ctx: RequestContext, consumer: Consumer, limits: ConsumerLimits, tokens: number): void {
    const now = clock.now()
    const decision = limits.admit(now, ports.epoch(), tokens)
    setHeaders(ctx, limits.limiter.headers(now))
    if (!decision.ok) throw refusal(consumer.name, limits, decision.code, decision.refusedBy, decision.tooLarge, decision.retryAfterMs)
  }

  /** Settles what admitHere charged; `owing`: the cost is also owed to the shared counters (Redis was away). */
  function settleHere(ctx: RequestContext, consumer: Consumer, limits: ConsumerLimits, tokens: number, owing: SharedConsumerLimits | null): void {
    const cost = settle(ctx, limits, tokens, clock.now(), ports.epoch())
    if (owing !== null && limits.budget !== null && cost > 0) owing.owe(consumer.id, limits.budget.period, usdToPico(cost))
  }

  /**
   * The shared spend of this period lacks the usage ledger's sum (a new period, or a Redis that
   * restarted empty): add it in the background, once at a time per consumer. The request goes
   * on meanwhile: one admitted against the unseeded figure is the price of not waiting.
   */
  function reseed(consumerId: string, budget: BudgetTracker, shared: SharedConsumerLimits): void {
    if (reseeding.has(consumerId)) return
    reseeding.add(consumerId)
    const start = budget.periodStart(ports.epoch())
    ports
      .spentSince(consumerId, start)
      .then((usd) => shared.spend.seed(consumerId, budget.period, start, usdToPico(usd)))
      .catch(() => undefined) // tried again by the next request that finds it unseeded
      .finally(() => reseeding.delete(consumerId))
  }

  /**
   * Counted across the instances: one script to admit; the settlement goes in the next batch.
   * A managed request does not wait for the answer here: the admit script is sent and the
   * request goes on to the schedule stage, which sends the key's lease in the same turn and
   * awaits both (ctx.admission) before the upstream call — one round trip, not two.
   */
  async function limitedTogether(ctx: RequestContext, next: () => Promise<void>, consumer: Consumer, shared: SharedConsumerLimits): Promise<void> {
    const limits = prepare(ctx, consumer, consumer.settings, clock.now())
    const tokens = ctx.endpoint === 'passthrough' ? 0 : charge(ctx)
    let settleAdmitted: (() => void) | null = null
    const admitted = admitTogether(ctx, consumer, limits, tokens, shared).then((s) => {
      settleAdmitted = s
    })
    if (ctx.endpoint === 'passthrough') await admitted
    else {
      ctx.admission = admitted
      // Answered by the schedule stage; a request that ends before it asks must not leave it unheard.
      admitted.catch(() => undefined)
    }
    try {
      await next()
      // Nothing after this stage heard the answer (none that sends upstream ran): it still decides.
      if (ctx.admission === admitted) await admitted
    } finally {
      ctx.admission = null
      // Ended before the schedule stage heard the answer (refused by the queue, client gone): settle what it admitted.
      if (settleAdmitted === null) await admitted.catch(() => undefined)
      ;(settleAdmitted as (() => void) | null)?.()
    }
  }

  /**
   * The caller's admission on Redis, or on this instance's share when Redis cannot answer.
   * Resolves with what settles the request once it ended; rejects with the caller's 429.
   */
  async function admitTogether(ctx: RequestContext, consumer: Consumer, limits: ConsumerLimits, tokens: number, shared: SharedConsumerLimits): Promise<() => void> {
    const settings = consumer.settings
    const budget = limits.budget
    let decision: SharedAdmitDecision
    try {
      // Once per consumer and process: the ledger's sum, which the first instance to seed writes for all.
      if (budget !== null && !budget.seeded) {
        const start = budget.periodStart(ports.epoch())
        const spentUsd = await ports.spentSince(consumer.id, start).catch(budgetUnknown)
        await shared.spend.seed(consumer.id, budget.period, start, usdToPico(spentUsd))
        budget.seed(spentUsd, start)
      }
      const sharedBudget = budget === null ? null : { period: budget.period, limitPico: usdToPico(budget.limitUsd) }
      decision = await shared.rates.admit(consumer.id, { rpm: settings.rpm, tpm: settings.tpm, budget: sharedBudget }, tokens)
    } catch (err) {
      if (!(err instanceof StateUnavailableError)) throw err
      shared.failed(err)
      return admitShare(ctx, consumer, tokens, shared)
    }
    if (budget !== null && decision.spentPico !== null) {
      // The local tracker follows the shared spend, so a fall-back to the share starts from it.
      budget.seed(decision.spentPico / 1e12, ports.epoch())
      if (decision.spendSeeded === false) reseed(consumer.id, budget, shared)
    }
    setSharedHeaders(ctx, decision)
    if (!decision.ok) throw refusal(consumer.name, limits, decision.refusedBy === 'budget' ? 'budget_exceeded' : 'rate_limit_exceeded', decision.refusedBy, decision.tooLarge, decision.retryAfterMs)
    return () => {
      const cost = requestCost(ctx)
      if (budget !== null && cost > 0) budget.charge(ports.epoch(), cost)
      shared.settle(consumer.id, { tpm: settings.tpm, charged: tokens, used: usedTokens(ctx, tokens), budget: budget === null ? null : { period: budget.period, pico: usdToPico(cost) } })
    }
  }

  /** Redis did not answer the admission: this instance's share of the limits decides, and the spend is owed to the shared counters. */
  async function admitShare(ctx: RequestContext, consumer: Consumer, tokens: number, shared: SharedConsumerLimits): Promise<() => void> {
    const limits = ports.limits.obtain(consumer.id, instanceShare(consumer.settings, shared.instances()), clock.now())
    if (limits.budget !== null && !limits.budget.seeded) await seedHere(consumer, limits.budget)
    admitHere(ctx, consumer, limits, tokens)
    return () => settleHere(ctx, consumer, limits, tokens, shared)
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

function setSharedHeaders(ctx: RequestContext, d: SharedAdmitDecision): void {
  const res = ctx.res
  if (res.headersSent) return
  if (d.requests !== null) setStanding(ctx, rateLimitHeaderNames.requests, d.requests)
  if (d.tokens !== null) setStanding(ctx, rateLimitHeaderNames.tokens, d.tokens)
}

function setStanding(ctx: RequestContext, names: readonly [string, string, string], s: RateStanding): void {
  ctx.res.setHeader(names[0], String(s.limit))
  ctx.res.setHeader(names[1], String(s.remaining))
  ctx.res.setHeader(names[2], formatResetDuration(s.resetMs))
}

function refusal(name: string, limits: ConsumerLimits, code: 'rate_limit_exceeded' | 'budget_exceeded' | null, refusedBy: string | null, tooLarge: boolean, retryAfterMs: number | null): SluiceError {
  const opts = retryAfterMs === null ? {} : { retryAfter: Math.max(1, Math.ceil(retryAfterMs / 1000)) }
  if (code === 'budget_exceeded') {
    const b = limits.budget
    const what = b === null ? 'budget' : `${periodWords[b.period]} budget of $${b.limitUsd}`
    return new SluiceError('budget_exceeded', [name, `its ${what} is spent`], opts)
  }
  if (tooLarge) return new SluiceError('rate_limit_exceeded', [name, "the request's token estimate (prompt + max_tokens) alone exceeds its tokens per minute; lower max_tokens"], opts)
  const dimension = refusedBy === 'tokens' ? 'tokens' : 'requests'
  return new SluiceError('rate_limit_exceeded', [name, `its tier allows no more ${dimension} per minute now`], opts)
}

/** Tokens charged at admission are settled from what the upstream reported, and the cost is charged to the budget. */
/** Returns the request's cost (USD). */
function settle(ctx: RequestContext, limits: ConsumerLimits, charged: number, now: number, epochNow: number): number {
  const cost = requestCost(ctx)
  limits.settle(now, epochNow, charged, usedTokens(ctx, charged), cost)
  return cost
}

/** Never sent: nothing used. Sent without a usage report: the estimate stands. */
function usedTokens(ctx: RequestContext, charged: number): number {
  const usage = ctx.usage
  const prompt = usage?.promptTokens ?? null
  return ctx.upstreamStartedAt === 0 ? 0 : prompt === null ? charged : prompt + (usage?.completionTokens ?? 0)
}

/** A budget the ledger cannot be asked about cannot be enforced: refuse for now rather than spend blind (or answer 500). */
function budgetUnknown(err: unknown): never {
  throw new SluiceError('auth_unavailable', [], { retryAfter: 5, cause: err })
}
