import type { Logger } from 'pino'
import { ClientGoneError, type RequestContext, type Stage } from '../../context.js'
import { priorityNames, type Priority } from '../../core/queue/index.js'
import { asSluiceError } from '../../errors.js'
import { closeAfterAnswer, sendError } from '../../respond.js'
import { accessLogWriter, type AccessRecord } from '../../telemetry/access-log.js'
import type { Metrics } from '../../telemetry/metrics.js'
import type { UsageRecord } from '../../store/types.js'
import { usageRecordOf } from '../../telemetry/usage-record.js'

export interface ObservePorts {
  readonly metrics: Metrics
  readonly logger: Logger
  /** Told about every finished request, e.g. to track which upstreams answered. */
  readonly onFinished?: (ctx: RequestContext) => void
  /** The usage ledger: one record per request with a known caller. */
  readonly ledger?: (record: UsageRecord) => void
}

/**
 * Wraps the rest of the pipeline so it sees every ending exactly once: it turns whatever a
 * stage threw into the client's error response, then records metrics and the access log.
 */
export function observe(ports: ObservePorts): Stage {
  const { logger } = ports
  const accessLog = accessLogWriter(logger)
  return async function observeStage(ctx, next) {
    try {
      await next()
    } catch (thrown) {
      answerFailure(ctx, thrown, logger)
    } finally {
      record(ctx, ports, accessLog)
    }
  }
}

/** How long the rest of an unread body is read and discarded after the answer, at most. */
const lingerMs = 5_000

function answerFailure(ctx: RequestContext, thrown: unknown, logger: Logger): void {
  if (ctx.clientGone || thrown instanceof ClientGoneError) {
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
  // A body left unread (refused before reading, or too large) would be parsed as the next
  // request on a kept-alive connection: close it, but only once the client could read the
  // answer (bounded: twice the body limit, or a few seconds).
  if (!ctx.req.complete) closeAfterAnswer(ctx.req, ctx.res, 2 * ctx.runtime.server.bodyLimit, lingerMs)
  sendError(ctx.res, err, ctx.id)
}

function record(ctx: RequestContext, ports: ObservePorts, accessLog: (record: AccessRecord) => void): void {
  const { logger, metrics } = ports
  const now = performance.now()
  const seconds = (now - ctx.startedAt) / 1000
  const route = ctx.servingRoute
  const model = route ? route.name : ctx.passthrough ? 'passthrough' : 'none'
  const provider = ctx.provider?.id ?? 'none'
  const key = ctx.key?.id ?? 'none'
  const status = String(ctx.status)
  try {
    metrics.requests.series(model, provider, key, status, ctx.outcome).inc()
    metrics.requestDuration.series(model, ctx.outcome).observe(seconds)
    if (ctx.upstreamStartedAt > 0 && ctx.provider) {
      const upstreamModel = ctx.deployment?.upstreamModel ?? 'passthrough'
      if (ctx.upstreamEndedAt > 0 && ctx.outcome === 'success') metrics.upstreamLatency.series(provider, key, upstreamModel).observe((ctx.upstreamEndedAt - ctx.upstreamStartedAt) / 1000)
      if (ctx.upstreamFirstByteAt > 0) metrics.upstreamTtft.series(provider, key, upstreamModel).observe((ctx.upstreamFirstByteAt - ctx.upstreamStartedAt) / 1000)
      if (ctx.upstreamFailure !== null && ctx.outcome !== 'client_abort') metrics.upstreamErrors.series(provider, key, ctx.upstreamFailure).inc()
    }
    ports.onFinished?.(ctx)
    if (ports.ledger) {
      const usage = usageRecordOf(ctx, Date.now(), now - ctx.startedAt)
      if (usage !== null) {
        ports.ledger(usage)
        if (usage.costUsd !== null && usage.costUsd > 0) metrics.spend.series(model, ctx.consumer?.tier ?? 'none').inc(usage.costUsd)
        if (usage.promptTokens) metrics.tokens.series(model, 'prompt').inc(usage.promptTokens)
        if (usage.completionTokens) metrics.tokens.series(model, 'completion').inc(usage.completionTokens)
      }
    }
    if (ctx.runtime.log.accessLog) {
      accessLog({
        requestId: ctx.id,
        method: ctx.req.method,
        endpoint: ctx.endpoint,
        model: ctx.model,
        route: route?.name ?? null,
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
        priority: ctx.priority === null ? null : (priorityNames[ctx.priority as Priority] ?? null),
        queuedMs: round(ctx.queuedMs),
        attempts: ctx.attempts.length,
        tries: ctx.attempts.length > 1 ? ctx.attempts.map((a) => a.summary()) : null,
      })
    }
  } catch (err) {
    // Telemetry must never turn a served request into a failure.
    logger.error({ requestId: ctx.id, err }, 'recording a finished request failed')
  }
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100
}
