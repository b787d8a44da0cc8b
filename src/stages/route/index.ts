import type { ModelRoute, RouteSplit, SplitGroup } from '../../config/runtime.js'
import type { RequestContext, Stage } from '../../context.js'
import { hashPair } from '../../core/balance/index.js'
import { SluiceError } from '../../errors.js'

const twoTo53 = 2 ** 53

/**
 * Model name → route (exact names and aliases, then wildcard patterns). An unmanaged model goes
 * to the passthrough provider when one is configured, and is a 404 otherwise. A route with a
 * split also gets its group here: by the A/B header, else sticky per caller, else (a canary)
 * at random per request.
 */
export function route(rand: () => number = Math.random): Stage {
  return function routeStage(ctx, next) {
    if (ctx.refusal !== null) throw ctx.refusal // refused on arrival (shutting down), now that auth knows the caller
    const runtime = ctx.runtime
    if (ctx.endpoint === 'passthrough') {
      if (!runtime.passthrough) throw new SluiceError('not_found', [ctx.req.method, ctx.req.url])
      ctx.passthrough = runtime.passthrough
      return next()
    }
    const model = ctx.model as string
    const found = runtime.resolveModel(model)
    if (!found) {
      if (!runtime.passthrough) throw new SluiceError('model_not_found', [model], { param: 'model' })
      ctx.passthrough = runtime.passthrough
      return next()
    }
    if (found.byEndpoint[ctx.endpoint].length === 0) {
      throw new SluiceError('invalid_request_error', [`model \`${model}\` is not served on this endpoint by any of its providers`], { param: 'model' })
    }
    ctx.route = found
    if (found.split !== null) assignGroup(ctx, found, found.split, rand)
    return next()
  }
}

function assignGroup(ctx: RequestContext, route: ModelRoute, split: RouteSplit, rand: () => number): void {
  let group: SplitGroup | undefined
  if (split.abHeader !== null) {
    const asked = ctx.req.headers[split.abHeader]
    if (typeof asked === 'string' && asked.length > 0) {
      group = split.groups.find((g) => g.name === asked)
      if (group === undefined) throw new SluiceError('invalid_header', [split.abHeaderName, `expected one of ${split.groups.map((g) => g.name).join(', ')}`], { param: split.abHeaderName ?? split.abHeader })
    } else {
      // No group asked for: the same caller lands in the same group every time.
      group = byWeight(split, hashPair(stickyKey(ctx), route.name) / twoTo53)
    }
  } else {
    group = byWeight(split, rand())
  }
  // A group none of whose targets serves this endpoint leaves the choice to the whole route.
  if (group.byEndpoint[ctx.endpoint as keyof SplitGroup['byEndpoint']].length === 0) return
  ctx.group = group
  ctx.res.setHeader('x-sluice-group', group.name)
}

function byWeight(split: RouteSplit, u: number): SplitGroup {
  let x = u * split.totalWeight
  for (const g of split.groups) {
    if (x < g.weight) return g
    x -= g.weight
  }
  return split.groups[split.groups.length - 1] as SplitGroup
}

/** A session, else the caller's credential, else its address: only ever hashed, never shown. */
function stickyKey(ctx: RequestContext): string {
  const h = ctx.req.headers
  const session = h['x-session-id']
  if (typeof session === 'string' && session.length > 0) return session
  const auth = h.authorization ?? h['x-api-key']
  if (typeof auth === 'string' && auth.length > 0) return auth
  return ctx.req.socket.remoteAddress ?? 'unknown'
}
