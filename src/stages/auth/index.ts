import type { IncomingHttpHeaders } from 'node:http'
import type { Runtime } from '../../config/runtime.js'
import type { Consumer, Stage } from '../../context.js'
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
  const identify = identifier(ports)
  // Not async: a caller let through as anonymous costs no promise of its own.
  return function authStage(ctx, next) {
    const consumer = identify(ctx.req.headers, ctx.endpoint === 'messages', ctx.runtime)
    if (!(consumer instanceof Promise)) {
      ctx.consumer = consumer
      return next()
    }
    return consumer.then((found) => {
      ctx.consumer = found
      return next()
    })
  }
}

/**
 * The same check for the routes the server answers itself (`/v1/models`, `/v1/models/{id}`):
 * resolves when the caller may use the data plane, rejects with the stage's 401 otherwise.
 * Both dialects' clients list models, so `x-api-key` counts here too.
 */
export function callerCheck(ports: AuthPorts): (headers: IncomingHttpHeaders, runtime: Runtime) => Promise<void> {
  const identify = identifier(ports)
  return async (headers, runtime) => {
    await identify(headers, true, runtime)
  }
}

type Identify = (headers: IncomingHttpHeaders, acceptsApiKeyHeader: boolean, runtime: Runtime) => Consumer | Promise<Consumer>

function identifier(ports: AuthPorts): Identify {
  const { directory } = ports
  return function identify(headers, acceptsApiKeyHeader, runtime) {
    const mode = runtime.auth
    if (mode === 'off') return anonymous
    if (mode === null) {
      const exist = directory.consumersExist()
      if (exist === false) return anonymous
      if (exist !== true) return exist.then((yes) => (yes ? authenticate(headers, acceptsApiKeyHeader, runtime) : anonymous))
    }
    return authenticate(headers, acceptsApiKeyHeader, runtime)
  }

  async function authenticate(headers: IncomingHttpHeaders, acceptsApiKeyHeader: boolean, runtime: Runtime): Promise<Consumer> {
    const key = credentialOf(headers, acceptsApiKeyHeader)
    if (key === null) throw new SluiceError('invalid_api_key', ['send Authorization: Bearer <your sluice key>'])
    // The shape is checked before any lookup, so junk (and 8 KB headers) costs no hashing or query.
    if (!looksLikeVirtualKey(key)) throw new SluiceError('invalid_api_key', ['the key is malformed'])
    const consumer = await directory.resolve(hashVirtualKey(key), runtime.tiers, ports.epoch())
    if (consumer === null) throw new SluiceError('invalid_api_key', ['the key is unknown, revoked or expired'])
    return consumer
  }
}

function credentialOf(h: IncomingHttpHeaders, acceptsApiKeyHeader: boolean): string | null {
  const authorization = h.authorization
  if (typeof authorization === 'string' && authorization.length > 0) {
    const m = bearer.exec(authorization)
    return m ? (m[1] as string) : ''
  }
  if (acceptsApiKeyHeader) {
    const apiKey = h['x-api-key']
    if (typeof apiKey === 'string' && apiKey.length > 0) return apiKey
  }
  return null
}
