import type { Provider } from '../../config/runtime.js'
import type { Stage } from '../../context.js'

/**
 * Picks the key for a passthrough request: round-robin over the provider's keys. Managed
 * requests arrive here with their deployment already chosen: the scheduler picks it in the same
 * step that charges the key's pacer, so no other request can take that slot in between.
 */
export function balance(): Stage {
  const cursors = new WeakMap<Provider, { next: number }>()
  return function balanceStage(ctx, next) {
    if (ctx.deployment === null && ctx.passthrough !== null) {
      const provider = ctx.passthrough
      let cursor = cursors.get(provider)
      if (!cursor) cursors.set(provider, (cursor = { next: 0 }))
      ctx.provider = provider
      ctx.key = provider.keys[cursor.next++ % provider.keys.length] ?? null
    }
    return next()
  }
}
