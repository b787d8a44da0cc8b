import type { ModelRoute, Provider, RouteSplit, SplitGroup } from '../../config/runtime.js'
import type { RequestContext, Stage } from '../../context.js'
import { hashPair } from '../../core/balance/index.js'
import { responseObjectId } from '../../core/balance/created-object.js'
import type { PinTable } from '../../core/balance/pins.js'
import { sharesPins, type SharedPinTable } from '../../core/balance/shared-pins.js'
import { SluiceError } from '../../errors.js'

const twoTo53 = 2 ** 53

/**
 * Model name → route (exact names and aliases, then wildcard patterns). An unmanaged model goes
 * to the passthrough provider when one is configured, and is a 404 otherwise. A route with a
 * split also gets its group here: by the A/B header, else sticky per caller, else (a canary)
 * at random per request.
 */
export function route(rand: () => number = Math.random, pins: PinTable | null = null): Stage {
  return function routeStage(ctx, next) {
    if (ctx.refusal !== null) throw ctx.refusal // refused on arrival (shutting down), now that auth knows the caller
    const runtime = ctx.runtime
    if (ctx.endpoint === 'passthrough') {
      // A response stored by a managed POST /v1/responses goes back to the provider that has it,
      // whether or not a passthrough provider is configured.
      const id = pins === null ? null : responseObjectId(ctx.pathBelowV1)
      if (pins === null || id === null) {
        passTo(ctx, null)
        return next()
      }
      const owner = responseOwner(runtime, pins, id)
      // Not pinned here: with several instances, another may have stored it (one round trip).
      if (owner === null && sharesPins(pins)) {
        return sharedResponseOwner(runtime, pins, id).then((shared) => {
          passTo(ctx, shared)
          return next()
        })
      }
      passTo(ctx, owner)
      return next()
    }
    const model = ctx.model as string
    const found = runtime.resolveModel(model)
    if (!found) {
      if (!runtime.passthrough) throw new SluiceError('model_not_found', [model], { param: 'model' })
      ctx.passthrough = runtime.passthrough
      return next()
    }
    // No provider of the route counts tokens (OpenAI has no such operation): the forward stage
    // answers with sluice's own estimate, which is also what the request would be charged.
    if (ctx.endpoint === 'count_tokens' && found.byEndpoint.count_tokens.length === 0) return next()
    if (found.byEndpoint[ctx.endpoint].length === 0) {
      throw new SluiceError('invalid_request_error', [`model \`${model}\` is not served on this endpoint by any of its providers`], { param: 'model' })
    }
    ctx.route = found
    if (found.split !== null) assignGroup(ctx, found, found.split, rand)
    return next()
  }
}

/** Passthrough to `owner` (the provider holding a stored response), else to the passthrough provider. */
function passTo(ctx: RequestContext, owner: Provider | null): void {
  if (owner === null && !ctx.runtime.passthrough) throw new SluiceError('not_found', [ctx.req.method, ctx.req.url])
  ctx.passthrough = owner ?? ctx.runtime.passthrough
}

/** responseOwner, asking every instance's pins: one round trip, the providers' lookups in parallel. */
async function sharedResponseOwner(runtime: RequestContext['runtime'], pins: SharedPinTable, id: string): Promise<Provider | null> {
  const providers = [...runtime.providers.values()]
  const keys = await Promise.all(providers.map((p) => pins.lookup(`${p.id}\0${id}`)))
  return providers[keys.findIndex((k) => k !== undefined)] ?? null
}

/** The provider whose key created the stored response `id`, if this instance pinned it. */
function responseOwner(runtime: RequestContext['runtime'], pins: PinTable, id: string): Provider | null {
  for (const provider of runtime.providers.values()) if (pins.keyOf(`${provider.id}\0${id}`) !== undefined) return provider
  return null
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
