import type { IncomingMessage, ServerResponse } from 'node:http'
import { describe, expect, it } from 'vitest'
import type { Runtime } from '../../../../src/config/runtime.js'
import { RequestContext } from '../../../../src/context.js'
import { effectiveSettings, LimiterRegistry, PriceTable } from '../../../../src/core/admit/index.js'
import { admit, type SharedConsumerLimits } from '../../../../src/stages/admit/index.js'
import type { ConsumerRates } from '../../../../src/state/consumer-rates.js'
import { StateUnavailableError } from '../../../../src/state/errors.js'
import type { StateHealth } from '../../../../src/state/health.js'
import { createMemoryState, MemoryBacking } from '../../../../src/state/memory/index.js'

// The admit stage with shared state: three "instances" (three stages, each with its own
// in-process registry) over one backing count a consumer's limits together, and the headers
// say so; when shared state is down, or a call fails, each keeps to its share of the limits.

const epoch = Date.UTC(2027, 0, 15, 12)

function context(settings = effectiveSettings({ rpm: 5 }, null)): { ctx: RequestContext; headers: Map<string, string> } {
  const headers = new Map<string, string>()
  const req = { headers: {} } as IncomingMessage
  const res = { headersSent: false, setHeader: (k: string, v: string) => void headers.set(k, v) } as unknown as ServerResponse
  const runtime = { prices: new PriceTable({ m: { input: 1, output: 0 } }), outputReserve: 16 } as unknown as Runtime
  const ctx = new RequestContext('r', req, res, runtime, 'chat', '/chat/completions')
  ctx.consumer = Object.freeze({ id: 'con_1', name: 'carol', keyPrefix: null, tier: 't', settings })
  return { ctx, headers }
}

class Switch implements StateHealth {
  up = true
  onChange(): () => void {
    return () => {}
  }
}

function instances(n: number, backing = new MemoryBacking(() => epoch)) {
  const health = new Switch()
  const failures: unknown[] = []
  const stages = Array.from({ length: n }, () => {
    const state = createMemoryState({ backing })
    const shared: SharedConsumerLimits = { rates: state.consumerRates, spend: state.spend, health, instances: () => n, failed: (err) => void failures.push(err), owe: () => {}, settle: (id, x) => void state.consumerRates.settle(id, x) }
    return admit({ limits: new LimiterRegistry(), clock: { now: () => 0 }, epoch: () => epoch, spentSince: async () => 0, shared })
  })
  return { stages, health, failures, backing }
}

async function call(stage: ReturnType<typeof admit>, settings?: ReturnType<typeof effectiveSettings>) {
  const { ctx, headers } = context(settings)
  const error = await Promise.resolve(stage(ctx, async () => undefined)).then(() => null, (e: unknown) => e as { code: string; retryAfter?: number })
  return { error, headers }
}

describe('admit with shared state', () => {
  it('RPM 5 over three instances: five answered, then 429, the headers counting every instance', async () => {
    const { stages } = instances(3)
    const remaining: string[] = []
    for (let i = 0; i < 5; i++) {
      const r = await call(stages[i % 3]!)
      expect(r.error).toBeNull()
      remaining.push(r.headers.get('x-ratelimit-remaining-requests')!)
    }
    expect(remaining).toEqual(['4', '3', '2', '1', '0'])
    const refused = await call(stages[2]!)
    expect(refused.error).toMatchObject({ code: 'rate_limit_exceeded', retryAfter: 12 })
    expect(Object.fromEntries(refused.headers)).toEqual({ 'x-ratelimit-limit-requests': '5', 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '1m0s' })
  })

  it('shared state down: each instance admits its share (RPM 5 ÷ 3 → 1), and the headers say so', async () => {
    const { stages, health } = instances(3)
    health.up = false
    const first = await call(stages[0]!)
    expect(first.error).toBeNull()
    expect(first.headers.get('x-ratelimit-limit-requests')).toBe('1')
    expect((await call(stages[0]!)).error).toMatchObject({ code: 'rate_limit_exceeded' })
    expect((await call(stages[1]!)).error).toBeNull()
  })

  it('a shared call that fails (Redis gone mid-request) falls back to the share at once and says so', async () => {
    const gone = new StateUnavailableError('timeout', 'Redis at redis://127.0.0.1:6379/0: Command timed out')
    const rates: ConsumerRates = { admit: () => Promise.reject(gone), settle: () => Promise.reject(gone), settleMany: () => Promise.reject(gone) }
    const failures: unknown[] = []
    const state = createMemoryState()
    const stage = admit({ limits: new LimiterRegistry(), clock: { now: () => 0 }, epoch: () => epoch, spentSince: async () => 0, shared: { rates, spend: state.spend, health: new Switch(), instances: () => 5, failed: (e) => void failures.push(e), owe: () => {}, settle: () => {} } })
    const r = await call(stage)
    expect(r.error).toBeNull()
    expect(r.headers.get('x-ratelimit-limit-requests')).toBe('1')
    expect(failures).toEqual([gone])
  })

  it('a consumer with nothing to count (no tier, or a tier of models only) never calls shared state', async () => {
    const calls: string[] = []
    const rates: ConsumerRates = { admit: async () => void calls.push('admit') as never, settle: async () => void calls.push('settle') as never, settleMany: async () => (calls.push('settleMany'), []) }
    const stage = admit({ limits: new LimiterRegistry(), clock: { now: () => 0 }, epoch: () => epoch, spentSince: async () => 0, shared: { rates, spend: createMemoryState().spend, health: new Switch(), instances: () => 3, failed: () => {}, owe: () => {}, settle: () => {} } })
    expect((await call(stage, effectiveSettings(null, null))).error).toBeNull()
    expect((await call(stage, effectiveSettings({ models: ['m'] }, null))).error).toBeNull()
    expect(calls).toEqual([])
  })

  it('a budget is seeded once from the ledger, checked across instances and charged from usage', async () => {
    const { stages, backing } = instances(2)
    const budgeted = effectiveSettings({ budget_usd: 1, budget_period: 'day' }, null)
    const state = createMemoryState({ backing })
    // The ledger says $0.75 were spent today before these instances started counting.
    const ledger = admit({ limits: new LimiterRegistry(), clock: { now: () => 0 }, epoch: () => epoch, spentSince: async () => 0.75, shared: { rates: state.consumerRates, spend: state.spend, health: new Switch(), instances: () => 2, failed: () => {}, owe: () => {}, settle: (id, x) => void state.consumerRates.settle(id, x) } })
    const { ctx } = context(budgeted)
    ctx.model = 'm'
    await ledger(ctx, async () => {
      // The upstream reports 250 000 prompt tokens at $1 per million: $0.25.
      ctx.attempts.push({ startedAt: 1, usage: { promptTokens: 250_000, completionTokens: 0 } } as never)
      ctx.current = ctx.attempts[0]!
    })
    await new Promise((r) => setImmediate(r))
    expect((await state.spend.read('con_1', 'day')).spentPico).toBe(1e12)
    const refused = await call(stages[1]!, budgeted)
    expect(refused.error).toMatchObject({ code: 'budget_exceeded' })
  })

  it('while shared state is down, a finished request\'s cost is owed to the shared spend (not lost)', async () => {
    const owed: [string, string, number][] = []
    const health = new Switch()
    health.up = false
    const state = createMemoryState()
    const stage = admit({ limits: new LimiterRegistry(), clock: { now: () => 0 }, epoch: () => epoch, spentSince: async () => 0, shared: { rates: state.consumerRates, spend: state.spend, health, instances: () => 2, failed: () => {}, owe: (id, p, pico) => void owed.push([id, p, pico]), settle: () => {} } })
    const { ctx } = context(effectiveSettings({ budget_usd: 1, budget_period: 'day' }, null))
    ctx.model = 'm'
    await stage(ctx, async () => {
      ctx.attempts.push({ startedAt: 1, usage: { promptTokens: 100_000, completionTokens: 0 } } as never)
      ctx.current = ctx.attempts[0]!
    })
    expect(owed).toEqual([['con_1', 'day', 0.1e12]])
  })

  it('a shared spend that lost its seed (Redis restarted empty) is seeded again from the ledger, without holding the request', async () => {
    const backing = new MemoryBacking(() => epoch)
    const state = createMemoryState({ backing })
    let ledgerAsks = 0
    const stage = admit({ limits: new LimiterRegistry(), clock: { now: () => 0 }, epoch: () => epoch, spentSince: async () => (ledgerAsks++, 0.5), shared: { rates: state.consumerRates, spend: state.spend, health: new Switch(), instances: () => 1, failed: () => {}, owe: () => {}, settle: (id, x) => void state.consumerRates.settle(id, x) } })
    const budgeted = effectiveSettings({ budget_usd: 1, budget_period: 'day' }, null)
    expect((await call(stage, budgeted)).error).toBeNull()
    expect(ledgerAsks).toBe(1)
    // Redis forgets (a restart without persistence): the next request finds the spend unseeded.
    backing.spend.clear()
    expect((await call(stage, budgeted)).error).toBeNull()
    await new Promise((r) => setImmediate(r))
    expect(ledgerAsks).toBe(2)
    expect(await state.spend.read('con_1', 'day')).toMatchObject({ spentPico: 0.5e12 })
    expect((await call(stage, budgeted)).error).toBeNull()
    expect(ledgerAsks).toBe(2)
  })
})
