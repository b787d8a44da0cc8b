import type { Deployment, ModelRoute, Provider } from '../../config/runtime.js'
import type { Stage } from '../../context.js'
import type { Endpoint } from '../../providers/types.js'

/**
 * Picks the deployment for a routed request. Until pacers, permits and breakers exist this is
 * plain round-robin over the deployments that serve the endpoint; the cursor lives here, not
 * in the frozen runtime, and a reload starts it afresh.
 */
export function balance(): Stage {
  const cursors = new WeakMap<ModelRoute, Record<Endpoint, number>>()
  const passthroughCursors = new WeakMap<Provider, { next: number }>()
  return function balanceStage(ctx, next) {
    const r = ctx.route
    if (r !== null) {
      const candidates = r.byEndpoint[ctx.endpoint as Endpoint]
      let cursor = cursors.get(r)
      if (!cursor) cursors.set(r, (cursor = { chat: 0, completions: 0, embeddings: 0, messages: 0 }))
      const i = cursor[ctx.endpoint as Endpoint]++ % candidates.length
      const picked = candidates[i] as Deployment
      ctx.deployment = picked
      ctx.provider = picked.provider
      ctx.key = picked.key
    } else if (ctx.passthrough !== null) {
      const provider = ctx.passthrough
      let cursor = passthroughCursors.get(provider)
      if (!cursor) passthroughCursors.set(provider, (cursor = { next: 0 }))
      ctx.provider = provider
      ctx.key = provider.keys[cursor.next++ % provider.keys.length] ?? null
    }
    return next()
  }
}
