import type { RequestContext } from '../context.js'

/** Prices are looked up by the upstream model first, then by the name the client sent. */
export function pricedModel(ctx: RequestContext): string {
  const upstream = ctx.deployment?.upstreamModel
  if (upstream !== undefined && ctx.runtime.prices.has(upstream)) return upstream
  return ctx.model ?? upstream ?? ''
}

/** USD for what the upstream reported using, from the price table; 0 without a report or a price. */
export function requestCost(ctx: RequestContext): number {
  const usage = ctx.usage
  if (usage === null || usage.promptTokens === null) return 0
  return ctx.runtime.prices.costOf(pricedModel(ctx), usage.promptTokens, usage.completionTokens ?? 0)
}
