import type { Deployment, ModelRoute } from '../../config/runtime.js'
import { ClientGoneError, type RequestContext, type Stage } from '../../context.js'
import type { Priority } from '../../core/queue/index.js'
import type { TokenEstimate } from '../../core/tokens/estimate.js'
import { SluiceError } from '../../errors.js'
import type { Endpoint } from '../../providers/types.js'
import type { Scheduler } from './scheduler.js'
import { Waiter } from './waiter.js'

export { Scheduler } from './scheduler.js'

const normal: Priority = 2
const maxWaitPattern = /^\s*(\d+(?:\.\d+)?)\s*$/

/**
 * Holds a managed request in its model's priority queue until one of the model's keys can take
 * it, gives it that key, and takes it back when the key answers 429, so a rate limit becomes a
 * wait instead of an error as long as the request's maximum wait allows. A key that fails
 * before the client received anything (5xx, 401/403, a connection failure) gets the request
 * sent to another key, then to the model's fallbacks, within the retry budget.
 */
export function schedule(scheduler: Scheduler): Stage {
  const clock = scheduler.clock
  return async function scheduleStage(ctx, next) {
    // The admit stage has already read it, capped by the caller's tier, when the caller has one.
    const priority = ctx.priority ?? ctx.requestedPriority() ?? normal
    ctx.priority = priority
    const route = ctx.route
    if (route === null) return next() // passthrough is not managed: no queue, no pacing
    const arrivedAt = clock.now()
    const endpoint = ctx.endpoint as Endpoint
    const request: Request = {
      ctx,
      next,
      priority,
      consumer: consumerOf(ctx),
      deadline: arrivedAt + readMaxWait(ctx, ctx.runtime.queue.maxWaitMs[priority]),
      estimate: ctx.tokenEstimate(),
      endpoint,
      retryShare: false,
    }
    scheduler.started()
    try {
      let failure = await serve(scheduler, request, route, ctx.group ? ctx.group.byEndpoint[endpoint] : route.byEndpoint[endpoint])
      for (let i = 0; failure !== null && i < route.fallbacks.length; i++) {
        const fallback = ctx.runtime.resolveModel(route.fallbacks[i] as string)
        if (fallback === null || fallback.byEndpoint[endpoint].length === 0) continue
        // Another model after a failed attempt is one more attempt: it needs a share of the budget.
        if (ctx.attempts > 0 && !holdRetryShare(scheduler, request)) break
        scheduler.retried('fallback')
        ctx.resetAttempt()
        ctx.route = fallback
        ctx.fallbackFrom = route.name
        if (!ctx.res.headersSent) ctx.res.setHeader('x-sluice-fallback', fallback.name)
        failure = await serve(scheduler, request, fallback, fallback.byEndpoint[endpoint])
      }
      if (failure !== null) throw failure
    } finally {
      scheduler.finished(request.retryShare)
    }
  }
}

/** What stays the same for every attempt of one request, whichever model serves it. */
interface Request {
  readonly ctx: RequestContext
  readonly next: () => Promise<void>
  readonly priority: Priority
  readonly consumer: string
  readonly deadline: number
  readonly estimate: TokenEstimate
  readonly endpoint: Endpoint
  /** Holds a share of the retry budget (taken at its first retry, kept to its end). */
  retryShare: boolean
}

function holdRetryShare(scheduler: Scheduler, r: Request): boolean {
  if (r.retryShare) return true
  r.retryShare = scheduler.takeRetry(r.ctx.runtime.retries)
  return r.retryShare
}

/**
 * Serves `r` with one model's deployments. Resolves null once a response went out (or the
 * client is gone), or with the error to give when nothing more can be done with this model —
 * every key out (no_capacity), or the last attempt's failure once retries are spent — so the
 * caller may try a fallback. Errors no fallback can help (queue full, timeouts) are thrown.
 */
async function serve(scheduler: Scheduler, r: Request, route: ModelRoute, candidates: readonly Deployment[]): Promise<SluiceError | null> {
  const { ctx, next } = r
  const clock = scheduler.clock
  const settings = ctx.runtime.queue
  const retries = ctx.runtime.retries
  const { input, output } = r.estimate
  const pool = scheduler.pool(route.name)
  const w = new Waiter(
    ctx,
    r.priority,
    r.consumer,
    input + output,
    input + 2 * output,
    candidates,
    route.strategy,
    affinityOf(ctx, r.consumer),
    retries.panicMode,
    r.endpoint,
    r.deadline,
    settings.keepaliveMs,
    clock,
    scheduler.epoch,
    scheduler.onRefusal,
  )
  w.weight = ctx.consumer?.settings.weight ?? 1
  ctx.attempt = w
  try {
    try {
      if (!pool.tryNow(w)) await pool.admit(w, settings)
    } catch (err) {
      if (err instanceof SluiceError && err.code === 'no_capacity') return err
      throw err
    }
    let retried = 0
    for (;;) {
      ctx.attempts++
      if (!ctx.res.headersSent) ctx.res.setHeader('x-sluice-attempts', ctx.attempts)
      try {
        await next()
      } finally {
        scheduler.settle(pool, w)
      }
      const failure = ctx.failureHeld
      if (failure !== null) {
        if (ctx.clientGone) throw new ClientGoneError()
        if (w.deployment !== null) w.exclude(w.deployment)
        const now = clock.now()
        if (retried >= retries.max || !pool.hasAlternative(w, now) || !holdRetryShare(scheduler, r)) {
          // Keys it never reached are all out: nothing can serve it now. Otherwise the client
          // hears what the last key said.
          return pool.untriedAllOut(w, now) ? pool.noCapacity(w) : failure
        }
        retried++
        scheduler.retried('retry')
        ctx.resetAttempt()
        try {
          await pool.requeue(w)
        } catch (err) {
          if (err instanceof SluiceError && err.code === 'no_capacity') return err
          throw err
        }
        continue
      }
      if (!ctx.refusalHeld) return null
      if (ctx.clientGone) throw new ClientGoneError()
      w.refusedUpstream = true
      const now = clock.now()
      const wait = pool.retryAfterMs(w, now)
      if (now + wait >= w.deadline) {
        throw new SluiceError('rate_limit_exceeded', [route.name, 'its upstream keys could not take the request within its maximum wait'], { retryAfter: Math.max(1, Math.ceil(wait / 1000)) })
      }
      ctx.resetAttempt()
      await pool.requeue(w)
    }
  } finally {
    ctx.attempt = null
  }
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
