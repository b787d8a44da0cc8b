import { ClientGoneError, type RequestContext, type Stage } from '../../context.js'
import { parsePriority, type Priority } from '../../core/queue/index.js'
import { SluiceError } from '../../errors.js'
import type { Endpoint } from '../../providers/types.js'
import { estimateTokens } from './estimate.js'
import type { Scheduler } from './scheduler.js'
import { Waiter } from './waiter.js'

export { Scheduler } from './scheduler.js'

const normal: Priority = 2
const maxWaitPattern = /^\s*(\d+(?:\.\d+)?)\s*$/

/**
 * Holds a managed request in its model's priority queue until one of the model's keys can take
 * it, gives it that key, and takes it back when the key answers 429, so a rate limit becomes a
 * wait instead of an error as long as the request's maximum wait allows.
 */
export function schedule(scheduler: Scheduler): Stage {
  const clock = scheduler.clock
  return async function scheduleStage(ctx, next) {
    const priority = readPriority(ctx)
    ctx.priority = priority
    const route = ctx.route
    if (route === null) return next() // passthrough is not managed: no queue, no pacing
    const arrivedAt = clock.now()
    const settings = ctx.runtime.queue
    const maxWait = readMaxWait(ctx, settings.maxWaitMs[priority])
    const endpoint = ctx.endpoint as Endpoint
    const { input, output } = estimateTokens(endpoint, ctx.body?.length ?? 0, ctx.json ?? {}, ctx.runtime.outputReserve)
    const pool = scheduler.pool(route.name)
    const w = new Waiter(
      ctx,
      priority,
      consumerOf(ctx),
      input + output,
      input + 2 * output,
      route.byEndpoint[endpoint],
      endpoint,
      arrivedAt + maxWait,
      settings.keepaliveMs,
      clock,
      scheduler.epoch,
      scheduler.onRefusal,
    )
    ctx.attempt = w
    try {
      if (!pool.tryNow(w)) await pool.admit(w, settings)
      for (;;) {
        ctx.attempts++
        try {
          await next()
        } finally {
          scheduler.settle(pool, w)
        }
        if (!ctx.refusalHeld) return
        if (ctx.clientGone) throw new ClientGoneError()
        w.refusedUpstream = true
        const now = clock.now()
        const wait = pool.retryAfterMs(w, now)
        if (now + wait >= w.deadline) {
          throw new SluiceError('rate_limit_exceeded', [route.name], { retryAfter: Math.max(1, Math.ceil(wait / 1000)) })
        }
        ctx.resetAttempt()
        await pool.requeue(w)
      }
    } finally {
      ctx.attempt = null
    }
  }
}

function readPriority(ctx: RequestContext): Priority {
  const raw = ctx.req.headers['x-priority']
  const p = parsePriority(typeof raw === 'string' ? raw : undefined)
  if (p === 'invalid') throw new SluiceError('invalid_header', ['X-Priority', 'use urgent, high, normal, low, or 0 (urgent) to 3 (low)'], { param: 'X-Priority' })
  return p ?? normal
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
 * Until consumers exist, a consumer is whoever holds one client credential, or one address.
 * The value is only a map key for fairness: it is never logged or exported.
 */
function consumerOf(ctx: RequestContext): string {
  const h = ctx.req.headers
  const auth = h.authorization ?? h['x-api-key']
  if (typeof auth === 'string' && auth.length > 0) return auth
  return ctx.req.socket.remoteAddress ?? 'unknown'
}
