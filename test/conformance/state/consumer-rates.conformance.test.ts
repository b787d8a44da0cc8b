import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ConsumerLimiter } from '../../../src/core/admit/consumer-limiter.js'
import type { SharedAdmitDecision } from '../../../src/state/consumer-rates.js'
import type { SharedState } from '../../../src/state/shared-state.js'
import { backends, startOfTests, type StateCluster } from './backends.js'

const tokens = (tpm: number, charged: number, used: number) => ({ tpm, charged, used, budget: null })
const usd = (x: number) => Math.round(x * 1e12)

describe.each(backends)('consumer rates: $name', (backend) => {
  let cluster: StateCluster
  let a: SharedState
  let b: SharedState
  let c: SharedState

  beforeEach(async () => {
    cluster = await backend.cluster()
    a = await cluster.instance('a')
    b = await cluster.instance('b')
    c = await cluster.instance('c')
  })
  afterEach(() => cluster.dispose())

  it('RPM 5 over three instances: exactly five answered, then refused with the headers counting them all; one round trip each', async () => {
    const rpm5 = { rpm: 5, tpm: null }
    const answers: SharedAdmitDecision[] = []
    for (let i = 0; i < 6; i++) {
      const s = [a, b, c][i % 3]!
      expect(await cluster.roundTrips(s, async () => answers.push(await s.consumerRates.admit('team', rpm5, 100)))).toBe(backend.trips(1))
    }
    expect(answers.map((d) => d.ok)).toEqual([true, true, true, true, true, false])
    expect(answers.map((d) => d.requests?.remaining)).toEqual([4, 3, 2, 1, 0, 0])
    expect(answers[5]).toEqual({ ok: false, refusedBy: 'requests', tooLarge: false, retryAfterMs: 12_000, requests: { limit: 5, remaining: 0, resetMs: 60_000 }, tokens: null, spentPico: null, spendSeeded: null })
    cluster.advance(11_999)
    expect((await a.consumerRates.admit('team', rpm5, 100)).ok).toBe(false)
    cluster.advance(1)
    expect(await b.consumerRates.admit('team', rpm5, 100)).toMatchObject({ ok: true, requests: { remaining: 0, resetMs: 60_000 } })
    // Another consumer has its own bucket.
    expect((await c.consumerRates.admit('other', rpm5, 100)).requests?.remaining).toBe(4)
  })

  it('RPM 7 lets a burst of exactly seven through (no floating-point drift)', async () => {
    const results = []
    for (let i = 0; i < 8; i++) results.push((await [a, b][i % 2]!.consumerRates.admit('c7', { rpm: 7, tpm: null }, 1)).ok)
    expect(results).toEqual([true, true, true, true, true, true, true, false])
  })

  it('a request refused for tokens takes no request slot; one larger than the TPM is refused for good', async () => {
    const limits = { rpm: 3, tpm: 1000 }
    expect(await a.consumerRates.admit('t', limits, 900)).toMatchObject({ ok: true, requests: { remaining: 2 }, tokens: { limit: 1000, remaining: 100, resetMs: 54_000 } })
    expect(await b.consumerRates.admit('t', limits, 200)).toEqual({
      ok: false,
      refusedBy: 'tokens',
      tooLarge: false,
      retryAfterMs: 6_000,
      requests: { limit: 3, remaining: 2, resetMs: 20_000 },
      tokens: { limit: 1000, remaining: 100, resetMs: 54_000 },
      spentPico: null,
      spendSeeded: null,
    })
    expect(await b.consumerRates.admit('t', limits, 1001)).toMatchObject({ ok: false, refusedBy: 'tokens', tooLarge: true, retryAfterMs: null })
    expect((await c.consumerRates.admit('t', limits, 100)).requests?.remaining).toBe(1)
  })

  it('settles tokens from usage: unused ones come back (never past full), extra ones are debt', async () => {
    const limits = { rpm: null, tpm: 1000 }
    await a.consumerRates.admit('s', limits, 800)
    let standing
    expect(await cluster.roundTrips(b, async () => (standing = await b.consumerRates.settle('s', tokens(1000, 800, 300))))).toBe(backend.trips(1))
    expect(standing).toEqual({ limit: 1000, remaining: 700, resetMs: 18_000 })
    expect(await b.consumerRates.settle('s', tokens(1000, 500, 0))).toEqual({ limit: 1000, remaining: 1000, resetMs: 0 })
    expect(await c.consumerRates.settle('s', tokens(1000, 0, 1500))).toEqual({ limit: 1000, remaining: 0, resetMs: 90_000 })
    // Nothing to settle: no round trip.
    expect(await cluster.roundTrips(a, async () => expect(await a.consumerRates.settle('s', tokens(1000, 10, 10))).toBeNull())).toBe(0)
    expect(await a.consumerRates.admit('s', limits, 1)).toMatchObject({ ok: false, refusedBy: 'tokens', retryAfterMs: 30_060 })
  })

  it('a changed limit keeps what was used: raised, the rest is free at once; lowered, the consumer waits', async () => {
    for (let i = 0; i < 5; i++) await a.consumerRates.admit('r', { rpm: 5, tpm: null }, 1)
    expect(await b.consumerRates.admit('r', { rpm: 10, tpm: null }, 1)).toMatchObject({ ok: true, requests: { limit: 10, remaining: 4 } })
    expect(await c.consumerRates.admit('r', { rpm: 2, tpm: null }, 1)).toMatchObject({ ok: false, retryAfterMs: 150_000 }) // six used, at 2 a minute, with room for one
  })

  it('matches the in-process limiter unit for unit over a long random run (memory: itself; Redis: the Lua port)', async () => {
    const reference = new ConsumerLimiter({ rpm: 20, tpm: 5000 })
    let now = 0
    let seed = 42
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31
      return seed % n
    }
    for (let step = 0; step < 300; step++) {
      const op = random(10)
      if (op < 3) {
        const ms = random(4000)
        cluster.advance(ms)
        now += ms
      } else if (op < 9) {
        const estimate = random(900)
        const want = reference.admit(now, estimate)
        const wanted = { ok: want.ok, refusedBy: want.refusedBy, tooLarge: want.tooLarge, retryAfterMs: want.retryAfterMs }
        const got = await [a, b, c][step % 3]!.consumerRates.admit('fuzz', { rpm: 20, tpm: 5000 }, estimate)
        const r = reference.requests!.peek(now)
        const t = reference.tokens!.peek(now)
        expect({ step, ...got }).toEqual({
          step,
          ...wanted,
          spentPico: null,
          spendSeeded: null,
          requests: { limit: 20, remaining: r.remaining, resetMs: r.resetMs },
          tokens: { limit: 5000, remaining: t.remaining, resetMs: t.resetMs },
        })
      } else {
        const charged = random(900)
        const used = random(1200)
        reference.settle(now, charged, used)
        const t = reference.tokens!.peek(now)
        const settled = await a.consumerRates.settle('fuzz', tokens(5000, charged, used))
        expect({ step, ...settled }).toEqual(charged === used ? { step } : { step, limit: 5000, remaining: t.remaining, resetMs: t.resetMs })
      }
    }
  })

  it('a spent budget refuses before the rates (no slot taken) until its period ends; settle charges cost and tokens in one round trip', async () => {
    const limits = { rpm: 10, tpm: 10_000, budget: { period: 'day' as const, limitPico: usd(1) } }
    expect(await a.consumerRates.admit('b', limits, 100)).toMatchObject({ ok: true, spentPico: 0, requests: { remaining: 9 } })
    let standing
    const settlement = { tpm: 10_000, charged: 100, used: 50, budget: { period: 'day' as const, pico: usd(0.6) } }
    expect(await cluster.roundTrips(b, async () => (standing = await b.consumerRates.settle('b', settlement)))).toBe(backend.trips(1))
    expect(standing).toMatchObject({ limit: 10_000, remaining: 9_950 })
    expect(await c.consumerRates.admit('b', limits, 100)).toMatchObject({ ok: true, spentPico: usd(0.6), requests: { remaining: 8 } })
    // Cost only: still one round trip.
    expect(await cluster.roundTrips(a, () => a.consumerRates.settle('b', { tpm: 10_000, charged: 100, used: 100, budget: { period: 'day', pico: usd(0.4) } }))).toBe(backend.trips(1))
    const endOfDay = Date.UTC(2027, 0, 16) - startOfTests
    expect(await b.consumerRates.admit('b', limits, 100)).toEqual({
      ok: false,
      refusedBy: 'budget',
      tooLarge: false,
      retryAfterMs: endOfDay,
      requests: { limit: 10, remaining: 8, resetMs: 12_000 },
      tokens: { limit: 10_000, remaining: 9_850, resetMs: 900 },
      spentPico: usd(1),
      spendSeeded: false,
    })
    // The spend counters see the same sum.
    expect((await c.spend.read('b', 'day')).spentPico).toBe(usd(1))
    cluster.advance(endOfDay)
    expect(await c.consumerRates.admit('b', limits, 100)).toMatchObject({ ok: true, spentPico: 0, requests: { remaining: 9 } })
    // A 'total' budget never comes back.
    const total = { rpm: null, tpm: null, budget: { period: 'total' as const, limitPico: usd(0.5) } }
    await a.consumerRates.settle('t', { tpm: null, charged: 0, used: 0, budget: { period: 'total', pico: usd(0.5) } })
    expect(await b.consumerRates.admit('t', total, 1)).toEqual({ ok: false, refusedBy: 'budget', tooLarge: false, retryAfterMs: null, requests: null, tokens: null, spentPico: usd(0.5), spendSeeded: false })
    // Seeded from the ledger: admit says so, and a new period is unseeded again.
    await c.spend.seed('b', 'day', startOfTests + endOfDay, usd(0.2))
    expect(await a.consumerRates.admit('b', limits, 1)).toMatchObject({ ok: true, spentPico: usd(0.2), spendSeeded: true })
    cluster.advance(86_400_000)
    expect(await a.consumerRates.admit('b', limits, 1)).toMatchObject({ ok: true, spentPico: 0, spendSeeded: false })
  })

  it('settles several consumers in one round trip (a batch), none when there is nothing to settle', async () => {
    const limits = { rpm: null, tpm: 1000, budget: { period: 'day' as const, limitPico: usd(1) } }
    await a.consumerRates.admit('x', limits, 500)
    await a.consumerRates.admit('y', limits, 500)
    const items = [
      { consumerId: 'x', settlement: { tpm: 1000, charged: 0, used: -400, budget: { period: 'day' as const, pico: usd(0.25) } } },
      { consumerId: 'y', settlement: { tpm: 1000, charged: 0, used: 100, budget: null } },
    ]
    expect(await cluster.roundTrips(b, () => b.consumerRates.settleMany(items))).toBe(backend.trips(1))
    expect(await c.consumerRates.admit('x', limits, 1)).toMatchObject({ tokens: { remaining: 899 }, spentPico: usd(0.25) })
    expect(await c.consumerRates.admit('y', limits, 1)).toMatchObject({ tokens: { remaining: 399 } })
    expect(await cluster.roundTrips(b, () => b.consumerRates.settleMany([]))).toBe(0)
  })
})
