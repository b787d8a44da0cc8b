import type { Dispatcher } from 'undici'
import { Attempt, type AttemptResult, type SendAttempt } from '../../attempt.js'
import type { RequestContext, Stage } from '../../context.js'
import type { Endpoint } from '../../providers/types.js'
import { passthroughHeaders } from './passthrough-headers.js'
import { Relay } from './relay.js'
import { rewriteModel } from './rewrite-model.js'
import { askForStreamUsage } from './stream-usage.js'

/**
 * One upstream exchange through the provider's pooled undici dispatcher, relayed to the client
 * as it arrives. `sendAttempt` serves the schedule stage's attempt loop (a managed request, once
 * per try); `forward()` is the terminal stage, where passthrough requests arrive with their key.
 */
export const sendAttempt: SendAttempt = (ctx, attempt) => {
  const deployment = attempt.deployment!
  // The client's bytes go as they are, with only the model name swapped when it differs.
  let body = ctx.model === deployment.upstreamModel ? ctx.body! : rewriteModel(ctx.body!, ctx.json!, JSON.stringify(ctx.model), deployment.upstreamModelJson, deployment.upstreamModel)
  if (ctx.stream && deployment.provider.streamUsage && (ctx.endpoint === 'chat' || ctx.endpoint === 'completions')) {
    const withUsage = askForStreamUsage(body, ctx.json!)
    if (withUsage !== null) {
      body = withUsage
      attempt.stripUsageChunk = true
    }
  }
  const headers = (ctx.stream ? deployment.key.streamRequestHeaders : deployment.key.jsonRequestHeaders).concat('x-request-id', ctx.id)
  const beta = ctx.endpoint === 'messages' ? ctx.req.headers['anthropic-beta'] : undefined
  if (typeof beta === 'string') headers.push('anthropic-beta', beta)
  return exchange(ctx, attempt, false, 'POST', deployment.paths[ctx.endpoint as Endpoint]!, headers, body)
}

export function forward(): Stage {
  return async function forwardStage(ctx) {
    const provider = ctx.passthrough!
    const key = ctx.passthroughKey!
    // Built first: it may refuse the request, and nothing may be armed before that.
    const headers = passthroughHeaders(ctx.req.headers, ctx.req.rawHeaders, key.headers, ctx.id)
    const attempt = new Attempt({ provider, key, deployment: null, route: null }, 1)
    ctx.attempts.push(attempt)
    ctx.current = attempt
    // A passthrough relay answers the client whatever happens: there is nothing to decide.
    await exchange(ctx, attempt, true, (ctx.req.method ?? 'GET') as Dispatcher.HttpMethod, provider.passthroughPath(ctx.pathBelowV1), headers, ctx.body)
  }
}

function exchange(ctx: RequestContext, attempt: Attempt, raw: boolean, method: Dispatcher.HttpMethod, path: string, headers: string[], body: Buffer | null): Promise<AttemptResult> {
  const provider = attempt.provider
  const relay = new Relay(ctx, attempt, raw)
  // The Relay enforces first-byte, idle and total deadlines itself, at millisecond precision.
  provider.dispatcher.dispatch({ origin: provider.origin, path, method, headers, body, headersTimeout: 0, bodyTimeout: 0 }, relay)
  return relay.done
}
