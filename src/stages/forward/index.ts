import type { Dispatcher } from 'undici'
import { Attempt, type AttemptResult, type SendAttempt } from '../../attempt.js'
import type { RequestContext, Stage } from '../../context.js'
import type { Endpoint } from '../../providers/types.js'
import { forwardClientHeaders } from '../../core/headers/forward.js'
import { passthroughHeaders } from './passthrough-headers.js'
import { Relay } from './relay.js'
import { rewriteModel } from './rewrite-model.js'
import { askForStreamUsage } from './stream-usage.js'
import { translationFor, type Translation } from './translation.js'
import { SluiceError } from '../../errors.js'
import { sendJson } from '../../respond.js'
import type { PinTable } from '../../core/balance/pins.js'
import { createdObjectId } from '../../core/balance/created-object.js'

/**
 * One upstream exchange through the provider's pooled undici dispatcher, relayed to the client
 * as it arrives. `sendAttempt` serves the schedule stage's attempt loop (a managed request, once
 * per try); `forward()` is the terminal stage, where passthrough requests arrive with their key.
 */
export function createSendAttempt(pins: PinTable | null): SendAttempt {
  return (ctx, attempt) => {
    // A stored response lives with the key that created it: later reads go to that key.
    if (pins !== null && ctx.endpoint === 'responses') {
      const pinPrefix = `${attempt.provider.id}\0`
      const keyId = attempt.key.id
      ctx.onCreated = (head) => {
        const id = createdObjectId(head)
        if (id !== null) pins.pin(pinPrefix + id, keyId)
      }
    }
    return sendAttempt(ctx, attempt)
  }
}

export const sendAttempt: SendAttempt = (ctx, attempt) => {
  const deployment = attempt.deployment!
  let translation: Translation | null
  try {
    translation = translationFor(ctx, deployment)
  } catch (err) {
    if (!(err instanceof SluiceError)) throw err
    // What the provider's dialect cannot express: refused before anything is sent, and no
    // other key of this dialect could do better.
    attempt.outcome = 'rejected'
    return Promise.resolve({ kind: 'failed-before-first-byte', error: err, retryable: false })
  }
  // The client's bytes go as they are, with only the model name swapped when it differs.
  let body = translation !== null ? translation.body : ctx.model === deployment.upstreamModel ? ctx.body! : rewriteModel(ctx.body!, ctx.json!, JSON.stringify(ctx.model), deployment.upstreamModelJson, deployment.upstreamModel)
  if (translation === null && ctx.stream && deployment.provider.streamUsage && (ctx.endpoint === 'chat' || ctx.endpoint === 'completions')) {
    const withUsage = askForStreamUsage(body, ctx.json!)
    if (withUsage !== null) {
      body = withUsage
      attempt.stripUsageChunk = true
    }
  }
  const headers = (ctx.stream ? deployment.key.streamRequestHeaders : deployment.key.jsonRequestHeaders).concat('x-request-id', ctx.id)
  forwardClientHeaders(headers, ctx.req.headers, deployment.provider.forwardHeaders)
  return exchange(ctx, attempt, false, 'POST', deployment.paths[ctx.endpoint as Endpoint]!, headers, body, translation)
}

export function forward(): Stage {
  return async function forwardStage(ctx) {
    if (ctx.endpoint === 'count_tokens' && ctx.passthrough === null) return answerTokenCount(ctx)
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

/** count_tokens for a model no provider can count for: sluice's estimate of the prompt, as it charges it. */
function answerTokenCount(ctx: RequestContext): void {
  ctx.status = 200
  sendJson(ctx.res, 200, `{"input_tokens":${ctx.tokenEstimate().input}}`, { 'x-request-id': ctx.id })
}

function exchange(ctx: RequestContext, attempt: Attempt, raw: boolean, method: Dispatcher.HttpMethod, path: string, headers: string[], body: Buffer | null, translation: Translation | null = null): Promise<AttemptResult> {
  const provider = attempt.provider
  const relay = new Relay(ctx, attempt, raw, translation)
  // The Relay enforces first-byte, idle and total deadlines itself, at millisecond precision.
  provider.dispatcher.dispatch({ origin: provider.origin, path, method, headers, body, headersTimeout: 0, bodyTimeout: 0 }, relay)
  return relay.done
}
