import { describe, expect, test } from 'vitest'
import { ConsumerLimits, LimiterRegistry } from '../../../../src/core/admit/registry.js'
import { effectiveSettings } from '../../../../src/core/admit/settings.js'

const T0 = 1_000_000
const EPOCH = Date.parse('2024-05-05T10:00:00Z')

describe('ConsumerLimits: admit', () => {
  test('rate refusal: 429 rate_limit_exceeded with the wait', () => {
    const c = new ConsumerLimits('c1', effectiveSettings({ rpm: 1 }), T0)
    expect(c.admit(T0, EPOCH, 10)).toMatchObject({ ok: true, code: null })
    expect({ ...c.admit(T0, EPOCH, 10) }).toEqual({ ok: false, code: 'rate_limit_exceeded', refusedBy: 'requests', tooLarge: false, retryAfterMs: 60_000 })
  })

  test('budget refusal: 429 budget_exceeded until the next period, and no rate slot taken', () => {
    const c = new ConsumerLimits('c1', effectiveSettings({ rpm: 5, budget_usd: 1, budget_period: 'day' }), T0)
    c.budget?.seed(1, c.budget.periodStart(EPOCH))
    expect({ ...c.admit(T0, EPOCH, 10) }).toEqual({ ok: false, code: 'budget_exceeded', refusedBy: 'budget', tooLarge: false, retryAfterMs: 14 * 3_600_000 })
    expect(c.limiter.requests?.peek(T0).remaining).toBe(5)
  })

  test('a spent total budget has no retry time', () => {
    const c = new ConsumerLimits('c1', effectiveSettings({ budget_usd: 0, budget_period: 'total' }), T0)
    expect(c.admit(T0, EPOCH, 0)).toMatchObject({ ok: false, code: 'budget_exceeded', retryAfterMs: null })
  })

  test('tooLarge passes through', () => {
    const c = new ConsumerLimits('c1', effectiveSettings({ tpm: 100 }), T0)
    expect(c.admit(T0, EPOCH, 101)).toMatchObject({ ok: false, code: 'rate_limit_exceeded', refusedBy: 'tokens', tooLarge: true, retryAfterMs: null })
  })

  test('settle reconciles tokens and charges the budget', () => {
    const c = new ConsumerLimits('c1', effectiveSettings({ tpm: 1000, budget_usd: 0.01, budget_period: 'month' }), T0)
    c.admit(T0, EPOCH, 900)
    c.settle(T0, EPOCH, 900, 100, 0.01)
    expect(c.limiter.tokens?.peek(T0).remaining).toBe(900)
    expect(c.admit(T0, EPOCH, 10)).toMatchObject({ ok: false, code: 'budget_exceeded' })
  })

  test('atRest once both rates are full again', () => {
    const c = new ConsumerLimits('c1', effectiveSettings({ rpm: 6, tpm: 600 }), T0)
    expect(c.atRest(T0)).toBe(true)
    c.admit(T0, EPOCH, 300)
    expect(c.atRest(T0 + 10_000)).toBe(false)
    expect(c.atRest(T0 + 30_000)).toBe(true)
  })
})

describe('LimiterRegistry', () => {
  test('one entry per consumer, created on first use', () => {
    const reg = new LimiterRegistry()
    const s = effectiveSettings({ rpm: 5 })
    const a = reg.obtain('a', s, T0)
    expect(reg.obtain('a', s, T0 + 1)).toBe(a)
    expect(reg.obtain('b', s, T0)).not.toBe(a)
    expect(reg.size).toBe(2)
    expect(a.lastUsedAt).toBe(T0 + 1)
  })

  test('changed settings reconfigure in place and keep what was used', () => {
    const reg = new LimiterRegistry()
    const a = reg.obtain('a', effectiveSettings({ rpm: 5, models: ['gpt-*'] }), T0)
    for (let i = 0; i < 3; i++) a.admit(T0, EPOCH, 0)
    const models = a.models
    expect(reg.obtain('a', effectiveSettings({ rpm: 10, models: ['gpt-*'] }), T0)).toBe(a)
    expect(a.settings.rpm).toBe(10)
    expect(a.limiter.requests?.peek(T0).remaining).toBe(7)
    expect(a.models).toBe(models) // same patterns: not recompiled
    reg.obtain('a', effectiveSettings({ rpm: 10, models: ['claude-*'] }), T0)
    expect(a.models.allows('claude-3')).toBe(true)
    expect(a.models.allows('gpt-4o')).toBe(false)
  })

  test('budgets: a new limit keeps the spend, a new period starts a fresh tracker to seed, none drops it', () => {
    const reg = new LimiterRegistry()
    const a = reg.obtain('a', effectiveSettings({ budget_usd: 1, budget_period: 'month' }), T0)
    const month = a.budget
    month?.seed(0.75, month.periodStart(EPOCH))
    reg.obtain('a', effectiveSettings({ budget_usd: 2, budget_period: 'month' }), T0)
    expect(a.budget).toBe(month)
    expect(a.budget?.limitUsd).toBe(2)
    expect(a.budget?.spentUsd).toBe(0.75)
    reg.obtain('a', effectiveSettings({ budget_usd: 2, budget_period: 'day' }), T0)
    expect(a.budget).not.toBe(month)
    expect(a.budget?.seeded).toBe(false)
    reg.obtain('a', effectiveSettings({ budget_usd: null }), T0)
    expect(a.budget).toBeNull()
    reg.obtain('a', effectiveSettings({ budget_usd: 3 }), T0)
    expect(a.budget?.limitUsd).toBe(3)
  })

  test('bounded: the least recently used consumer goes first', () => {
    const reg = new LimiterRegistry({ maxEntries: 3 })
    const s = effectiveSettings({ rpm: 5 })
    for (const id of ['a', 'b', 'c']) reg.obtain(id, s, T0)
    reg.obtain('a', s, T0 + 1) // a is now the most recent; b the least
    reg.obtain('d', s, T0 + 2)
    expect(reg.size).toBe(3)
    expect([...reg.values()].map((e) => e.id)).toEqual(['c', 'a', 'd'])
    expect(reg.get('b')).toBeUndefined()
  })

  test('a flood of consumers never holds more than the bound, and keeps the newest', () => {
    const reg = new LimiterRegistry({ maxEntries: 100 })
    const s = effectiveSettings({ rpm: 5 })
    for (let i = 0; i < 10_000; i++) reg.obtain(`c${i}`, s, T0 + i)
    expect(reg.size).toBe(100)
    expect(reg.get('c9999')).toBeDefined()
    expect(reg.get('c9900')).toBeDefined()
    expect(reg.get('c9899')).toBeUndefined()
  })

  test('sweep forgets consumers idle long enough and at rest, keeps the rest', () => {
    const reg = new LimiterRegistry()
    const s = effectiveSettings({ rpm: 5, tpm: 1000 })
    reg.obtain('idle', s, T0).admit(T0, EPOCH, 10)
    const debtor = reg.obtain('debtor', s, T0)
    debtor.admit(T0, EPOCH, 10)
    debtor.settle(T0, EPOCH, 10, 100_000, 0) // 100 minutes of tokens owed
    reg.obtain('recent', s, T0 + 290_000)
    expect(reg.sweep(T0 + 300_000, 300_000)).toBe(1)
    expect(reg.get('idle')).toBeUndefined()
    expect(reg.get('debtor')).toBeDefined()
    expect(reg.get('recent')).toBeDefined()
  })

  test('delete, and a bound below 1 is refused', () => {
    const reg = new LimiterRegistry()
    reg.obtain('a', effectiveSettings(null), T0)
    expect(reg.delete('a')).toBe(true)
    expect(reg.size).toBe(0)
    expect(() => new LimiterRegistry({ maxEntries: 0 })).toThrow(RangeError)
  })
})
