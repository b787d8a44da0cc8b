import { describe, expect, test } from 'vitest'
import { defaultSettings, effectivePriority, effectiveSettings, sameSettings, type ConsumerSettingsInput } from '../../../../src/core/admit/settings.js'

const premium: ConsumerSettingsInput = { rpm: 600, tpm: 2_000_000, models: ['*'], priority: { default: 'normal', max: 'urgent' }, budget_usd: 100, budget_period: 'month', weight: 4 }
const basic: ConsumerSettingsInput = { rpm: 60, models: ['gpt-4o-mini'], priority: { default: 'low', max: 'normal' } }

describe('effectiveSettings: tier merged with overrides', () => {
  test('no tier, no overrides: unlimited, every model, normal priority, any priority allowed', () => {
    expect(effectiveSettings(undefined)).toEqual({ rpm: null, tpm: null, budgetUsd: null, budgetPeriod: 'month', models: ['*'], priorityDefault: 2, priorityMax: 0, weight: 1 })
    expect(effectiveSettings(null, null)).toEqual(defaultSettings)
  })

  test('a tier alone', () => {
    expect(effectiveSettings(basic)).toEqual({ rpm: 60, tpm: null, budgetUsd: null, budgetPeriod: 'month', models: ['gpt-4o-mini'], priorityDefault: 3, priorityMax: 2, weight: 1 })
    expect(effectiveSettings(premium)).toEqual({ rpm: 600, tpm: 2_000_000, budgetUsd: 100, budgetPeriod: 'month', models: ['*'], priorityDefault: 2, priorityMax: 0, weight: 4 })
  })

  const cases: Array<[string, ConsumerSettingsInput, Partial<ReturnType<typeof effectiveSettings>>]> = [
    ['a number overrides', { rpm: 30 }, { rpm: 30, tpm: 2_000_000 }],
    ['null removes the tier\'s limit', { rpm: null, budget_usd: null }, { rpm: null, budgetUsd: null }],
    ['undefined inherits', { rpm: undefined }, { rpm: 600 }],
    ['models are replaced, not added to', { models: ['gpt-4o-mini'] }, { models: ['gpt-4o-mini'] }],
    ['priority fields merge one by one', { priority: { default: 'high' } }, { priorityDefault: 1, priorityMax: 0 }],
    ['a default above the max is lowered to it', { priority: { max: 'normal' } }, { priorityDefault: 2, priorityMax: 2 }],
    ['a lower max drags the default down', { priority: { max: 'low' } }, { priorityDefault: 3, priorityMax: 3 }],
    ['budget period and weight', { budget_period: 'day', weight: 0.5 }, { budgetPeriod: 'day', weight: 0.5 }],
  ]
  for (const [name, overrides, expected] of cases) test(name, () => expect(effectiveSettings(premium, overrides)).toMatchObject(expected))

  test('overrides without a tier apply on the defaults', () => {
    expect(effectiveSettings(null, { tpm: 1000, priority: { default: 'urgent', max: 'high' } })).toMatchObject({ rpm: null, tpm: 1000, priorityDefault: 1, priorityMax: 1 })
  })

  test('the result and its model list are frozen copies', () => {
    const models = ['a-*']
    const s = effectiveSettings({ models })
    models.push('b')
    expect(s.models).toEqual(['a-*'])
    expect(Object.isFrozen(s)).toBe(true)
    expect(Object.isFrozen(s.models)).toBe(true)
  })
})

describe('effectivePriority', () => {
  const s = effectiveSettings(basic) // default low, max normal
  const cases: Array<[0 | 1 | 2 | 3 | null, number]> = [[null, 3], [3, 3], [2, 2], [1, 2], [0, 2]]
  for (const [asked, got] of cases) test(`basic asks ${asked} → ${got}`, () => expect(effectivePriority(s, asked)).toBe(got))
  test('no cap by default', () => expect(effectivePriority(defaultSettings, 0)).toBe(0))
})

describe('sameSettings', () => {
  test('equal values in different objects are the same; any changed field is not', () => {
    expect(sameSettings(effectiveSettings(premium), effectiveSettings(premium))).toBe(true)
    const base = effectiveSettings(premium)
    for (const o of [{ rpm: 1 }, { tpm: 1 }, { budget_usd: 1 }, { budget_period: 'day' }, { models: ['x'] }, { priority: { max: 'low' } }, { weight: 2 }] as ConsumerSettingsInput[]) {
      expect(sameSettings(base, effectiveSettings(premium, o)), JSON.stringify(o)).toBe(false)
    }
  })
})
