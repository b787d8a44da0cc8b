import type { Provider, ProviderKey } from '../../config/runtime.js'
import type { RequestContext, Stage } from '../../context.js'
import type { PinTable } from '../../core/balance/pins.js'
import { SluiceError } from '../../errors.js'
import { createdObjectId, createsObject, referencedObject } from './pinning.js'
import { sharesPins } from '../../core/balance/shared-pins.js'

export interface BalancePorts {
  /** Which key created which file, batch or stored response; outlives config generations. */
  readonly pins: PinTable
}

/**
 * Picks the key of a passthrough request: the key that created the object it names (a file,
 * a batch, a previous response) — or a clear error when that key is out — else round-robin over
 * the provider's keys that are in service. Managed requests never reach it: the schedule stage
 * sends them itself, once per attempt.
 */
export function balance(ports: BalancePorts): Stage {
  const cursors = new WeakMap<Provider, { next: number }>()
  const { pins } = ports
  return function balanceStage(ctx, next) {
    const provider = ctx.passthrough
    if (provider === null) return next()
    const object = referencedObject(ctx)
    const pinned = object === null ? undefined : pins.keyOf(`${provider.id}\0${object}`)
    // Not pinned here: with several instances, another may have created it (one round trip).
    if (object !== null && pinned === undefined && sharesPins(pins)) {
      return pins.lookup(`${provider.id}\0${object}`).then((shared) => {
        choose(ctx, provider, object, shared)
        return next()
      })
    }
    choose(ctx, provider, object, pinned)
    return next()
  }

  /** The pinned key when there is one (or a clear error when it is out), else the next in service; and the pin of what this request creates. */
  function choose(ctx: RequestContext, provider: Provider, object: string | null, pinned: string | undefined): void {
    const now = performance.now()
    if (pinned !== undefined) {
      const key = provider.keys.find((k) => k.id === pinned)
      if (key === undefined || isOut(key, now)) {
        const wait = key === undefined ? Infinity : key.breaker.wait(now)
        throw new SluiceError('pinned_key_unavailable', [object, pinned], Number.isFinite(wait) ? { retryAfter: Math.max(1, Math.ceil(wait / 1000)) } : {})
      }
      ctx.passthroughKey = key
    } else {
      let cursor = cursors.get(provider)
      if (!cursor) cursors.set(provider, (cursor = { next: 0 }))
      ctx.passthroughKey = nextInService(provider.keys, cursor, now)
    }
    if (createsObject(ctx)) {
      const keyId = (ctx.passthroughKey as ProviderKey).id
      ctx.onCreated = (head) => {
        const id = createdObjectId(head)
        if (id !== null) pins.pin(`${provider.id}\0${id}`, keyId)
      }
    }
  }
}

/** The next key round the ring whose breaker is not open or disabled; any key when all are. */
function nextInService(keys: readonly ProviderKey[], cursor: { next: number }, now: number): ProviderKey | null {
  const n = keys.length
  for (let i = 0; i < n; i++) {
    const key = keys[cursor.next++ % n] as ProviderKey
    if (!isOut(key, now)) return key
  }
  return keys[cursor.next++ % n] ?? null
}

function isOut(key: ProviderKey, now: number): boolean {
  const state = key.breaker.state(now)
  return state === 'open' || state === 'disabled'
}
