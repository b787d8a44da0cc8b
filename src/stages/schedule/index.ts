import type { AttemptResult, SendAttempt } from '../../attempt.js'
import type { Deployment, ModelRoute } from '../../config/runtime.js'
import { ClientGoneError, type RequestContext, type Stage } from '../../context.js'
import type { Priority } from '../../core/queue/index.js'
import { SluiceError } from '../../errors.js'
import type { Endpoint } from '../../providers/types.js'
import type { ScheduledAttempt } from './scheduled-attempt.js'
import type { Scheduler } from './scheduler.js'
import { Waiter } from './waiter.js'

export { Scheduler } from './scheduler.js'

const normal: Priority = 2
const maxWaitPattern = /^\s*(\d+(?:\.\d+)?)\s*$/

/**
 * Holds a managed request in its model's priority queue until one of the model's keys can take
 * it, then runs the attempt loop — the whole retry and fallback policy, in this one file:
 *
 *   take a key (pacer slot, permit, breaker trial in one step) → send → settle → by result:
 *     delivered, failed after the first byte  the client has its answer: done
 *     held rate limit (429)                   back to the head of its queue while its max wait
 *                                             allows, else 429 rate_limit_exceeded
 *     failed before the first byte            another key (≤ retries.max, within the retry
 *                                             budget); none left: this model's failure
 *     client gone                             done, nobody to answer
 *   a model's failure (its keys all out, or retries spent) → the next of its fallbacks
 */
export function schedule(scheduler: Scheduler, send: SendAttempt): Stage {
  const clock = scheduler.clock
  return async function scheduleStage(ctx, next) {
    // The admit stage has already read it, capped by the caller's tier, when the caller has one.
    const priority = ctx.priority ?? ctx.requestedPriority() ?? normal
    ctx.priority = priority
    const route = ctx.route
    if (route === null) {
      // Passthrough is not managed: no queue, no pacing; and nothing goes up before the caller is admitted.
      if (ctx.admission !== null) {
        await ctx.admission
        ctx.admission = null
      }
      return next()
    }
    const arrivedAt = clock.now()
    const estimate = ctx.tokenEstimate()
    const request: Request = {
      ctx,
      priority,
      consumer: consumerOf(ctx),
      deadline: arrivedAt + readMaxWait(ctx, ctx.runtime.queue.maxWaitMs[priority]),
      tokens: estimate.input + estimate.output,
      cost: estimate.input + 2 * estimate.output,
      endpoint: ctx.endpoint as Endpoint,
      retryShare: false,
    }
    scheduler.started()
    try {
      await serveWithFallbacks(scheduler, send, request, route)
    } finally {
      scheduler.finished(request.retryShare)
    }
  }
}

/** What stays the same for every attempt of one request, whichever model serves it. */
interface Request {
  readonly ctx: RequestContext
  readonly priority: Priority
  readonly consumer: string
  readonly deadline: number
  /** Tokens charged to a key's pacer at dispatch; the queue's fairness cost (output counted twice). */
  readonly tokens: number
  readonly cost: number
  readonly endpoint: Endpoint
  /** Holds a share of the retry budget (taken at its first retry, kept to its end). */
  retryShare: boolean
}

/** The requested model, then its fallbacks in order, until one serves the request. */
async function serveWithFallbacks(scheduler: Scheduler, send: SendAttempt, r: Request, route: ModelRoute): Promise<void> {
  const { ctx, endpoint } = r
  let failure = await serveModel(scheduler, send, r, route, ctx.group ? ctx.group.byEndpoint[endpoint] : route.byEndpoint[endpoint])
  for (let i = 0; failure !== null && i < route.fallbacks.length; i++) {
    const fallback = ctx.runtime.resolveModel(route.fallbacks[i] as string)
    if (fallback === null || fallback.byEndpoint[endpoint].length === 0) continue
    // Another model after a failed attempt is one more attempt: it needs a share of the budget.
    if (ctx.attempts.length > 0 && !holdRetryShare(scheduler, r)) break
    scheduler.retried('fallback')
    ctx.fallback = fallback
    ctx.current = null // what the failed model's last try said is not this request's answer
    if (!ctx.res.headersSent) ctx.res.setHeader('x-sluice-fallback', fallback.name)
    failure = await serveModel(scheduler, send, r, fallback, fallback.byEndpoint[endpoint])
  }
  if (failure === null) return
  // The try that failed says how the request ended (an upstream error, a timeout); a request
  // refused while it waited (no try of its own now) leaves it to observe (rejected).
  if (ctx.current !== null) ctx.outcome = ctx.current.outcome
  throw failure
}

function holdRetryShare(scheduler: Scheduler, r: Request): boolean {
  if (r.retryShare) return true
  r.retryShare = scheduler.takeRetry(r.ctx.runtime.retries)
  return r.retryShare
}

/**
 * Serves `r` with one model's deployments. Resolves null once the client has its answer, or
 * with the error to give when nothing more can be done with this model — every key out
 * (no_capacity), or the last attempt's failure once retries are spent — so a fallback may try.
 * Errors no fallback can help (queue full, timeouts, the client gone) are thrown.
 */
async function serveModel(scheduler: Scheduler, send: SendAttempt, r: Request, route: ModelRoute, candidates: readonly Deployment[]): Promise<SluiceError | null> {
  const { ctx } = r
  const clock = scheduler.clock
  const retries = ctx.runtime.retries
  const pool = scheduler.pool(route.name)
  const w = new Waiter({
    ctx,
    priority: r.priority,
    consumer: r.consumer,
    weight: ctx.consumer?.settings.weight ?? 1,
    tokens: r.tokens,
    cost: r.cost,
    candidates,
    strategy: route.strategy,
    affinity: affinityOf(ctx, r.consumer),
    panicMode: retries.panicMode,
    deadline: r.deadline,
    keepaliveMs: ctx.runtime.queue.keepaliveMs,
  })
  let retried = 0
  // The caller's admission across instances, still on its way: heard beside the first lease (one
  // round trip for both), or before the request takes a place in the queue.
  let admission = ctx.admission
  ctx.admission = null
  if (admission !== null && scheduler.leases === null) {
    await admission
    admission = null
  }
  let sentNow = pool.tryNow(w)
  if (!sentNow && admission !== null) {
    await admission
    admission = null
    // A key may have freed up meanwhile: only a request that must wait is queued (and bounded).
    sentNow = pool.tryNow(w)
  }
  let attempt = sentNow ? w.granted : await wait(pool.admit(w, ctx.runtime.queue), w)
  for (;;) {
    if (attempt instanceof SluiceError) return attempt
    if (attempt === null) throw new Error('the scheduler granted a request without an attempt')
    // Several instances: the key's permit must also be a lease across them (one round trip).
    if (scheduler.leases !== null) {
      const leased = await scheduler.leases.confirm(attempt, () => ctx.clientGone, admission)
      admission = null
      if (!leased) {
        if (ctx.clientGone) throw new ClientGoneError()
        attempt = await wait(pool.requeue(w), w)
        continue
      }
    }
    ctx.attempts.push(attempt)
    ctx.current = attempt
    if (!ctx.res.headersSent) ctx.res.setHeader('x-sluice-attempts', ctx.attempts.length)
    let result: AttemptResult
    try {
      result = await send(ctx, attempt)
    } finally {
      scheduler.settle(pool, w, attempt)
    }
    switch (result.kind) {
      case 'delivered':
      case 'failed-after-first-byte':
        return null
      case 'client-gone':
        throw new ClientGoneError()
      case 'failed-before-first-byte': {
        if (ctx.clientGone) throw new ClientGoneError()
        if (!result.retryable) {
          ctx.outcome = attempt.outcome
          throw result.error
        }
        w.exclude(attempt.deployment as Deployment)
        const now = clock.now()
        if (retried >= retries.max || !pool.hasAlternative(w, now) || !holdRetryShare(scheduler, r)) {
          // Keys it never reached are all out: nothing can serve it now. Otherwise the client
          // hears what the last key said.
          return pool.untriedAllOut(w, now) ? pool.noCapacity(w) : result.error
        }
        retried++
        scheduler.retried('retry')
        break
      }
      case 'held-rate-limit': {
        if (ctx.clientGone) throw new ClientGoneError()
        w.refusedUpstream = true
        const now = clock.now()
        const waitMs = pool.retryAfterMs(w, now)
        if (now + waitMs >= w.deadline) {
          ctx.outcome = attempt.outcome
          throw new SluiceError('rate_limit_exceeded', [route.name, 'its upstream keys could not take the request within its maximum wait'], { retryAfter: Math.max(1, Math.ceil(waitMs / 1000)) })
        }
        break
      }
    }
    // Back to the queue: until another try is sent, the request has no upstream answer of its own.
    ctx.current = null
    attempt = await wait(pool.requeue(w), w)
  }
}

/**
 * The attempt a wait in the pool ends with; no_capacity (every key this model could use is
 * out) comes back as a value, so the model's fallbacks get their turn.
 */
async function wait(parked: Promise<void>, w: Waiter): Promise<ScheduledAttempt | SluiceError | null> {
  try {
    await parked
  } catch (err) {
    if (err instanceof SluiceError && err.code === 'no_capacity') return err
    throw err
  }
  return w.granted
}

/** What the `hash` strategy keeps together: a session, else a caller. */
function affinityOf(ctx: RequestContext, consumer: string): string {
  const session = ctx.req.headers['x-session-id']
  return typeof session === 'string' && session.length > 0 ? session : consumer
}

/** X-Sluice-Max-Wait: <seconds> may shorten the priority's maximum wait, never lengthen it. */
function readMaxWait(ctx: RequestContext, limitMs: number): number {
  const raw = ctx.req.headers['x-sluice-max-wait']
  if (raw === undefined) return limitMs
  const m = typeof raw === 'string' ? maxWaitPattern.exec(raw) : null
  if (!m) throw new SluiceError('invalid_header', ['X-Sluice-Max-Wait', 'expected a number of seconds, such as 5 or 2.5'], { param: 'X-Sluice-Max-Wait' })
  return Math.min(limitMs, Number(m[1]) * 1000)
}

/**
 * The authenticated consumer; without one (auth off), whoever holds one client credential, or
 * one address. The value is only a map key for fairness: it is never logged or exported.
 */
function consumerOf(ctx: RequestContext): string {
  const consumer = ctx.consumer
  if (consumer !== null && consumer.keyPrefix !== null) return consumer.id
  const h = ctx.req.headers
  const auth = h.authorization ?? h['x-api-key']
  if (typeof auth === 'string' && auth.length > 0) return auth
  return ctx.req.socket.remoteAddress ?? 'unknown'
}
