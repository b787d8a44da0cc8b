import type { Stage } from '../../context.js'
import { SluiceError } from '../../errors.js'
import { readBody } from './read-body.js'
import { checkBody, parseJsonBody } from './validate.js'

export interface IngressPorts {
  /** True once shutdown has begun: new work is refused with 503 shutting_down. */
  readonly isDraining: () => boolean
}

/** Bounds and parses the body; a managed endpoint's body is checked before anything else runs. */
export function ingress(ports: IngressPorts): Stage {
  return async function ingressStage(ctx, next) {
    if (ctx.refusal !== null) throw ctx.refusal
    if (ports.isDraining()) {
      // Refused without reading the body, but only once auth knows the caller (the route stage
      // throws it): a refusal with a caller gets a usage record like any other.
      ctx.refusal = new SluiceError('shutting_down', [], { retryAfter: 1 })
      return next()
    }
    const method = ctx.req.method
    if (method === 'GET' || method === 'HEAD') ctx.body = null
    else ctx.body = await readBody(ctx.req, ctx.runtime.server.bodyLimit, ctx.runtime.server.requestTimeoutMs)
    if (ctx.endpoint !== 'passthrough') {
      const checked = checkBody(ctx.endpoint, parseJsonBody(ctx.body ?? Buffer.alloc(0)))
      ctx.json = checked.json
      ctx.model = checked.model
      ctx.stream = checked.stream
    }
    await next()
  }
}
