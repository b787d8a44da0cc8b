import type { Stage } from '../../context.js'
import type { RequestContext } from '../../context.js'
import { passthroughHeaders } from './passthrough-headers.js'
import { Relay } from './relay.js'
import { rewriteModel } from './rewrite-model.js'

/**
 * The terminal stage: one upstream exchange through the provider's pooled undici dispatcher,
 * relayed to the client as it arrives. Resolves when the client's response has ended.
 */
export function forward(): Stage {
  return function forwardStage(ctx) {
    return ctx.deployment ? managed(ctx) : passthrough(ctx)
  }
}

function managed(ctx: RequestContext): Promise<void> {
  const deployment = ctx.deployment!
  const provider = deployment.provider
  // The client's bytes go as they are, with only the model name swapped when it differs.
  const body = ctx.model === deployment.upstreamModel ? ctx.body! : rewriteModel(ctx.body!, ctx.json!, JSON.stringify(ctx.model), deployment.upstreamModelJson, deployment.upstreamModel)
  const headers = [...deployment.key.headers, 'content-type', 'application/json', 'accept', ctx.stream ? 'text/event-stream' : 'application/json', 'x-request-id', ctx.id]
  const beta = ctx.endpoint === 'messages' ? ctx.req.headers['anthropic-beta'] : undefined
  if (typeof beta === 'string') headers.push('anthropic-beta', beta)
  const relay = new Relay(ctx, provider, false)
  provider.dispatcher.dispatch(
    {
      origin: provider.origin,
      path: deployment.paths[ctx.endpoint as Exclude<typeof ctx.endpoint, 'passthrough'>]!,
      method: 'POST',
      headers,
      body,
      // The Relay enforces first-byte, idle and total deadlines itself, at millisecond precision.
      headersTimeout: 0,
      bodyTimeout: 0,
    },
    relay,
  )
  return relay.done
}

function passthrough(ctx: RequestContext): Promise<void> {
  const provider = ctx.passthrough!
  // Built first: it may refuse the request, and nothing may be armed before that.
  const headers = passthroughHeaders(ctx.req.headers, ctx.req.rawHeaders, ctx.key!.headers, ctx.id)
  const relay = new Relay(ctx, provider, true)
  provider.dispatcher.dispatch(
    {
      origin: provider.origin,
      path: provider.passthroughPath(ctx.pathBelowV1),
      method: (ctx.req.method ?? 'GET') as 'GET',
      headers,
      body: ctx.body,
      headersTimeout: 0,
      bodyTimeout: 0,
    },
    relay,
  )
  return relay.done
}
