import type { Stage } from '../../context.js'
import { SluiceError } from '../../errors.js'

/**
 * Model name → route. An unmanaged model goes to the passthrough provider when one is
 * configured, and is a 404 otherwise.
 */
export function route(): Stage {
  return function routeStage(ctx, next) {
    const runtime = ctx.runtime
    if (ctx.endpoint === 'passthrough') {
      if (!runtime.passthrough) throw new SluiceError('not_found', [ctx.req.method, ctx.req.url])
      ctx.passthrough = runtime.passthrough
      return next()
    }
    const model = ctx.model as string
    const found = runtime.models.get(model)
    if (!found) {
      if (!runtime.passthrough) throw new SluiceError('model_not_found', [model], { param: 'model' })
      ctx.passthrough = runtime.passthrough
      return next()
    }
    if (found.byEndpoint[ctx.endpoint].length === 0) {
      throw new SluiceError('invalid_request_error', [`model \`${model}\` is not served on this endpoint by any of its providers`], { param: 'model' })
    }
    ctx.route = found
    return next()
  }
}
