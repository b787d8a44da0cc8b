import type { Dispatcher } from 'undici'
import type { Provider } from '../../config/runtime.js'
import type { RequestContext, Stage } from '../../context.js'
import type { Endpoint } from '../../providers/types.js'
import { forwardClientHeaders } from '../../core/headers/forward.js'
import { passthroughHeaders } from './passthrough-headers.js'
import { Relay } from './relay.js'
import { rewriteModel } from './rewrite-model.js'
import { askForStreamUsage } from './stream-usage.js'

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
  // The client's bytes go as they are, with only the model name swapped when it differs.
  let body = ctx.model === deployment.upstreamModel ? ctx.body! : rewriteModel(ctx.body!, ctx.json!, JSON.stringify(ctx.model), deployment.upstreamModelJson, deployment.upstreamModel)
  if (ctx.stream && deployment.provider.streamUsage && (ctx.endpoint === 'chat' || ctx.endpoint === 'completions')) {
    const withUsage = askForStreamUsage(body, ctx.json!)
    if (withUsage !== null) {
      body = withUsage
      ctx.stripUsageChunk = true
    }
  }
  const headers = (ctx.stream ? deployment.key.streamRequestHeaders : deployment.key.jsonRequestHeaders).concat('x-request-id', ctx.id)
  forwardClientHeaders(headers, ctx.req.headers, deployment.provider.forwardHeaders)
  return exchange(ctx, deployment.provider, false, 'POST', deployment.paths[ctx.endpoint as Endpoint]!, headers, body)
}

function passthrough(ctx: RequestContext): Promise<void> {
  const provider = ctx.passthrough!
  // Built first: it may refuse the request, and nothing may be armed before that.
  const headers = passthroughHeaders(ctx.req.headers, ctx.req.rawHeaders, ctx.key!.headers, ctx.id)
  return exchange(ctx, provider, true, (ctx.req.method ?? 'GET') as Dispatcher.HttpMethod, provider.passthroughPath(ctx.pathBelowV1), headers, ctx.body)
}

function exchange(ctx: RequestContext, provider: Provider, raw: boolean, method: Dispatcher.HttpMethod, path: string, headers: string[], body: Buffer | null): Promise<void> {
  const relay = new Relay(ctx, provider, raw)
  // The Relay enforces first-byte, idle and total deadlines itself, at millisecond precision.
  provider.dispatcher.dispatch({ origin: provider.origin, path, method, headers, body, headersTimeout: 0, bodyTimeout: 0 }, relay)
  return relay.done
}
