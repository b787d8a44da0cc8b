import type { RequestContext } from '../context.js'
import { priorityNames } from '../core/queue/index.js'
import type { UsageRecord } from '../store/types.js'
import { requestCost } from './cost.js'

const maxSessionId = 200

/**
 * The usage ledger's record of a finished request, or null for one nobody was identified for
 * (refused before auth). A stream the client left has no usage report: its tokens are the
 * relay's estimate from the prompt's size and the events relayed, and the record says so.
 */
export function usageRecordOf(ctx: RequestContext, at: number, totalMs: number): UsageRecord | null {
  const consumer = ctx.consumer
  if (consumer === null) return null
  const session = ctx.req.headers['x-session-id']
  const usage = ctx.usage
  // A client that left: the relay estimated what it used until then (a stream's usage chunk never came).
  const partial = ctx.outcome === 'client_abort' && ctx.upstreamStartedAt > 0
  const prompt = usage?.promptTokens ?? null
  const completion = usage?.completionTokens ?? null
  return {
    at,
    requestId: ctx.id,
    consumerId: consumer.id,
    keyPrefix: consumer.keyPrefix,
    sessionId: typeof session === 'string' && session.length > 0 ? session.slice(0, maxSessionId) : null,
    model: ctx.model,
    deployment: ctx.deployment?.id ?? (ctx.provider !== null && ctx.key !== null ? `${ctx.provider.id}/${ctx.key.id}` : null),
    status: ctx.status,
    outcome: ctx.outcome,
    promptTokens: prompt,
    completionTokens: completion,
    costUsd: requestCost(ctx),
    queueMs: Math.round(ctx.queuedMs * 100) / 100,
    latencyMs: Math.round(totalMs * 100) / 100,
    partial,
    priority: ctx.priority === null ? null : priorityNames[ctx.priority],
  }
}
