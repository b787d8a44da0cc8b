import type { IncomingMessage, ServerResponse } from 'node:http'
import { describe, expect, it } from 'vitest'
import type { Runtime } from '../../../../src/config/runtime.js'
import { RequestContext } from '../../../../src/context.js'
import { effectiveSettings, LimiterRegistry } from '../../../../src/core/admit/index.js'
import { admit } from '../../../../src/stages/admit/index.js'

// A consumer with a budget whose spending the ledger cannot tell (the database is down) is
// refused with 503 auth_unavailable and Retry-After, not a 500, and is never sent upstream.

function context(): RequestContext {
  const req = { headers: {} } as IncomingMessage
  const res = { headersSent: false, setHeader: () => undefined } as unknown as ServerResponse
  const ctx = new RequestContext('req-1', req, res, {} as Runtime, 'chat', '/chat/completions')
  ctx.consumer = Object.freeze({ id: 'con_1', name: 'carol', keyPrefix: null, tier: 'budgeted', settings: effectiveSettings({ budget_usd: 10 }, null) })
  return ctx
}

describe('admit: a budget that cannot be read', () => {
  it('503 auth_unavailable with Retry-After 5, the cause kept; the request goes no further', async () => {
    const down = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })
    const stage = admit({ limits: new LimiterRegistry(), clock: { now: () => 0 }, epoch: () => Date.UTC(2026, 11, 7), spentSince: () => Promise.reject(down) })
    let reached = false
    const err = await Promise.resolve(stage(context(), async () => void (reached = true))).then(() => null, (e: unknown) => e)
    expect(err).toMatchObject({ code: 'auth_unavailable', status: 503, retryAfter: 5 })
    expect((err as Error).cause).toBe(down)
    expect(reached).toBe(false)
  })

  it('once the ledger answers, the same consumer is admitted', async () => {
    let up = false
    const stage = admit({
      limits: new LimiterRegistry(),
      clock: { now: () => 0 },
      epoch: () => Date.UTC(2026, 11, 7),
      spentSince: () => (up ? Promise.resolve(1) : Promise.reject(new Error('down'))),
    })
    const ctx = context()
    await expect(Promise.resolve(stage(ctx, async () => undefined))).rejects.toMatchObject({ code: 'auth_unavailable' })
    up = true
    let reached = false
    await stage(ctx, async () => void (reached = true))
    expect(reached).toBe(true)
  })
})
