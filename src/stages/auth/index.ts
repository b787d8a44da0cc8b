import type { Consumer, RequestContext, Stage } from '../../context.js'
import { defaultSettings } from '../../core/admit/index.js'
import { hashVirtualKey, looksLikeVirtualKey } from '../../core/virtual-keys/index.js'
import { SluiceError } from '../../errors.js'
import type { ConsumerDirectory } from './directory.js'

export { ConsumerDirectory, type KeyRecord, type KeySource } from './directory.js'

export interface AuthPorts {
  readonly directory: ConsumerDirectory
  /** Wall-clock epoch ms, for key expiry. */
  readonly epoch: () => number
}

/** With `auth: off` (or unset while no consumer exists) every caller is this one. */
export const anonymous: Consumer = Object.freeze({ id: 'anonymous', name: 'anonymous', keyPrefix: null, tier: null, settings: defaultSettings })

const bearer = /^Bearer[ \t]+(\S+)[ \t]*$/i

/**
 * Virtual key → consumer. A data-plane request needs `Authorization: Bearer sk-sluice-…` (or
 * `x-api-key` on the Anthropic dialect) once auth applies; anything else is 401 before any
 * upstream is involved. Admin keys are not virtual keys and never pass here.
 */
export function auth(ports: AuthPorts): Stage {
  const { directory } = ports
  // Not async: a caller let through as anonymous costs no promise of its own.
  return function authStage(ctx, next) {
    const mode = ctx.runtime.auth
    if (mode === 'off') {
      ctx.consumer = anonymous
      return next()
    }
    if (mode === null) {
      const exist = directory.consumersExist()
      if (exist === false) {
        ctx.consumer = anonymous
        return next()
      }
      if (exist !== true) {
        return exist.then((yes) => {
          if (yes) return authenticate(ctx, next)
          ctx.consumer = anonymous
          return next()
        })
      }
    }
    return authenticate(ctx, next)
  }

  async function authenticate(ctx: RequestContext, next: () => Promise<void>): Promise<void> {
    const key = credentialOf(ctx)
    if (key === null) throw new SluiceError('invalid_api_key', ['send Authorization: Bearer <your sluice key>'])
    // The shape is checked before any lookup, so junk (and 8 KB headers) costs no hashing or query.
    if (!looksLikeVirtualKey(key)) throw new SluiceError('invalid_api_key', ['the key is malformed'])
    const consumer = await directory.resolve(hashVirtualKey(key), ctx.runtime.tiers, ports.epoch())
    if (consumer === null) throw new SluiceError('invalid_api_key', ['the key is unknown, revoked or expired'])
    ctx.consumer = consumer
    return next()
  }
}

function credentialOf(ctx: RequestContext): string | null {
  const h = ctx.req.headers
  const authorization = h.authorization
  if (typeof authorization === 'string' && authorization.length > 0) {
    const m = bearer.exec(authorization)
    return m ? (m[1] as string) : ''
  }
  if (ctx.endpoint === 'messages' || ctx.endpoint === 'count_tokens') {
    const apiKey = h['x-api-key']
    if (typeof apiKey === 'string' && apiKey.length > 0) return apiKey
  }
  return null
}
