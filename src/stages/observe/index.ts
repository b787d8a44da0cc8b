import type { Logger } from 'pino'
import type { RequestContext, Stage } from '../../context.js'
import { asSluiceError } from '../../errors.js'
import { sendError } from '../../respond.js'
import type { Metrics } from '../../telemetry/metrics.js'

export interface ObservePorts {
  readonly metrics: Metrics
  readonly logger: Logger
  /** Told about every finished request, e.g. to track which upstreams answered. */
  readonly onFinished?: (ctx: RequestContext) => void
}

/**
 * Wraps the rest of the pipeline so it sees every ending exactly once: it turns whatever a
 * stage threw into the client's error response, then records metrics and the access log.
 */
export function observe(ports: ObservePorts): Stage {
  const { metrics, logger } = ports
  return async function observeStage(ctx, next) {
    metrics.inFlight.inc()
    try {
      await next()
    } catch (thrown) {
      answerFailure(ctx, thrown, logger)
    } finally {
      metrics.inFlight.dec()
      record(ctx, ports)
    }
  }
}

function answerFailure(ctx: RequestContext, thrown: unknown, logger: Logger): void {
  if (ctx.clientGone) {
    ctx.outcome = 'client_abort'
    ctx.status = 499
    return
  }
  const err = asSluiceError(thrown, ctx.id)
  if (err.code === 'internal_error') {
    ctx.outcome = 'internal_error'
    logger.error({ requestId: ctx.id, err: thrown }, 'unhandled error in the request pipeline')
  } else if (ctx.outcome === 'success') {
    ctx.outcome = 'rejected'
  }
  ctx.status = err.status
  ctx.errorCode = err.code
  sendError(ctx.res, err, ctx.id)
}

function record(ctx: RequestContext, ports: ObservePorts): void {
  const { metrics, logger } = ports
  const now = performance.now()
  const seconds = (now - ctx.startedAt) / 1000
  const model = ctx.route ? ctx.route.name : ctx.passthrough ? 'passthrough' : 'none'
  const provider = ctx.provider?.id ?? 'none'
  const key = ctx.key?.id ?? 'none'
  const status = String(ctx.status)
  try {
    metrics.requests.inc({ model, provider, key, status, outcome: ctx.outcome })
    metrics.requestDuration.observe({ model, outcome: ctx.outcome }, seconds)
    if (ctx.upstreamStartedAt > 0 && ctx.provider) {
      const upstreamModel = ctx.deployment?.upstreamModel ?? 'passthrough'
      const labels = { provider, key, model: upstreamModel }
      if (ctx.upstreamEndedAt > 0 && ctx.outcome === 'success') metrics.upstreamLatency.observe(labels, (ctx.upstreamEndedAt - ctx.upstreamStartedAt) / 1000)
      if (ctx.upstreamFirstByteAt > 0) metrics.upstreamTtft.observe(labels, (ctx.upstreamFirstByteAt - ctx.upstreamStartedAt) / 1000)
      if (ctx.upstreamFailure !== null && ctx.outcome !== 'client_abort') metrics.upstreamErrors.inc({ provider, key, status: ctx.upstreamFailure })
    }
    ports.onFinished?.(ctx)
    if (ctx.runtime.log.accessLog) {
      logger.info(
        {
          requestId: ctx.id,
          method: ctx.req.method,
          endpoint: ctx.endpoint,
          model: ctx.model,
          route: ctx.route?.name ?? null,
          provider: ctx.provider?.id ?? null,
          key: ctx.key?.id ?? null,
          deployment: ctx.deployment?.id ?? null,
          stream: ctx.stream,
          status: ctx.status,
          outcome: ctx.outcome,
          error: ctx.errorCode,
          upstreamStatus: ctx.upstreamStatus || null,
          totalMs: round(now - ctx.startedAt),
          upstreamMs: ctx.upstreamStartedAt > 0 ? round((ctx.upstreamEndedAt || now) - ctx.upstreamStartedAt) : null,
          ttftMs: ctx.upstreamFirstByteAt > 0 ? round(ctx.upstreamFirstByteAt - ctx.upstreamStartedAt) : null,
          promptTokens: ctx.usage?.promptTokens ?? null,
          completionTokens: ctx.usage?.completionTokens ?? null,
        },
        'request',
      )
    }
  } catch (err) {
    // Telemetry must never turn a served request into a failure.
    logger.error({ requestId: ctx.id, err }, 'recording a finished request failed')
  }
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100
}
