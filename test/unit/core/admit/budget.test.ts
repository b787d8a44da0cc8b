import { describe, expect, test } from 'vitest'
import { BudgetTracker, PriceTable, nextPeriodStart, periodStart, type BudgetPeriod } from '../../../../src/core/admit/budget.js'

const at = (iso: string): number => Date.parse(iso)
const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString())
const HOUR = 3_600_000

describe('PriceTable', () => {
  const prices = new PriceTable({ 'gpt-4o-mini': { input: 0.15, output: 0.6 }, 'gpt-4o': { input: 2.5, output: 10 }, free: { input: 0, output: 0 } })

  const cases: Array<[string, number, number, number]> = [
    ['gpt-4o-mini', 1000, 500, 0.00045],
    ['gpt-4o-mini', 1_000_000, 0, 0.15],
    ['gpt-4o-mini', 0, 1_000_000, 0.6],
    ['gpt-4o', 1_000_000, 1_000_000, 12.5],
    ['gpt-4o', 1, 1, 0.0000125],
    ['free', 5000, 5000, 0],
    ['unknown-model', 1000, 1000, 0],
  ]
  for (const [model, prompt, completion, usd] of cases) {
    test(`${model}: ${prompt} in + ${completion} out = $${usd}`, () => expect(prices.costOf(model, prompt, completion)).toBe(usd))
  }

  test('an unpriced model is reported once, a priced one never', () => {
    expect(prices.has('mystery')).toBe(false)
    expect(prices.warnOnce('mystery')).toBe(true)
    expect(prices.warnOnce('mystery')).toBe(false)
    expect(prices.warnOnce('other-mystery')).toBe(true)
    expect(prices.warnOnce('gpt-4o')).toBe(false)
    expect(prices.has('gpt-4o')).toBe(true)
  })

  test('warnings stop after 1000 distinct unpriced names', () => {
    const p = new PriceTable({})
    let warned = 0
    for (let i = 0; i < 1500; i++) if (p.warnOnce(`m${i}`)) warned++
    expect(warned).toBe(1000)
  })

  test('negative or missing prices are refused', () => {
    expect(() => new PriceTable({ x: { input: -1, output: 0 } })).toThrow(RangeError)
    expect(() => new PriceTable({ x: { input: Number.NaN, output: 0 } })).toThrow(RangeError)
  })
})

describe('periodStart / nextPeriodStart (UTC)', () => {
  const cases: Array<[BudgetPeriod, string, string, string | null]> = [
    ['day', '2024-03-10T15:30:00.000Z', '2024-03-10T00:00:00.000Z', '2024-03-11T00:00:00.000Z'],
    ['day', '2024-03-10T00:00:00.000Z', '2024-03-10T00:00:00.000Z', '2024-03-11T00:00:00.000Z'],
    ['day', '2024-12-31T23:59:59.999Z', '2024-12-31T00:00:00.000Z', '2025-01-01T00:00:00.000Z'],
    // Weeks start on Monday: 2024-03-10 is a Sunday, 2024-03-11 a Monday.
    ['week', '2024-03-10T15:30:00.000Z', '2024-03-04T00:00:00.000Z', '2024-03-11T00:00:00.000Z'],
    ['week', '2024-03-11T00:00:00.000Z', '2024-03-11T00:00:00.000Z', '2024-03-18T00:00:00.000Z'],
    ['week', '2024-03-13T12:00:00.000Z', '2024-03-11T00:00:00.000Z', '2024-03-18T00:00:00.000Z'],
    ['week', '2025-01-01T09:00:00.000Z', '2024-12-30T00:00:00.000Z', '2025-01-06T00:00:00.000Z'],
    ['month', '2024-02-15T08:00:00.000Z', '2024-02-01T00:00:00.000Z', '2024-03-01T00:00:00.000Z'],
    ['month', '2024-02-29T23:59:59.999Z', '2024-02-01T00:00:00.000Z', '2024-03-01T00:00:00.000Z'],
    ['month', '2023-02-28T12:00:00.000Z', '2023-02-01T00:00:00.000Z', '2023-03-01T00:00:00.000Z'],
    ['month', '2024-03-01T00:00:00.000Z', '2024-03-01T00:00:00.000Z', '2024-04-01T00:00:00.000Z'],
    ['month', '2024-12-31T23:00:00.000Z', '2024-12-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z'],
    ['month', '2100-02-14T00:00:00.000Z', '2100-02-01T00:00:00.000Z', '2100-03-01T00:00:00.000Z'],
    ['total', '2024-03-10T15:30:00.000Z', '1970-01-01T00:00:00.000Z', null],
  ]
  for (const [period, now, start, next] of cases) {
    test(`${period} at ${now}: ${start} … ${next}`, () => {
      const s = periodStart(period, at(now))
      expect(iso(s)).toBe(start)
      expect(iso(nextPeriodStart(period, s))).toBe(next)
    })
  }
})

describe('BudgetTracker', () => {
  test('stops traffic once the price table\'s cost reaches the limit', () => {
    const prices = new PriceTable({ m: { input: 1, output: 2 } })
    const b = new BudgetTracker(0.001, 'day')
    const now = at('2024-05-05T10:00:00Z')
    let served = 0
    while (!b.wouldExceed(now) && served < 100) {
      served++
      b.charge(now, prices.costOf('m', 100, 200)) // $0.0005 each
    }
    expect(served).toBe(2)
    expect(b.spentUsd).toBe(0.001)
  })

  test('ten charges of $0.1 reach a $1 limit exactly (no float drift)', () => {
    const b = new BudgetTracker(1, 'total')
    for (let i = 0; i < 9; i++) b.charge(0, 0.1)
    expect(b.wouldExceed(0)).toBe(false)
    b.charge(0, 0.1)
    expect(b.wouldExceed(0)).toBe(true)
    expect(b.spentUsd).toBe(1)
  })

  test('a month\'s spend is seeded, refused at the limit until the next calendar month', () => {
    const b = new BudgetTracker(10, 'month')
    expect(b.seeded).toBe(false)
    const now = at('2024-02-29T12:00:00Z')
    b.seed(9.5, b.periodStart(now))
    expect(b.seeded).toBe(true)
    expect(b.wouldExceed(now)).toBe(false)
    b.charge(now, 0.5)
    expect(b.wouldExceed(now)).toBe(true)
    expect(b.retryAfterMs(now)).toBe(12 * HOUR) // leap day: March starts 12 h later
    const march = at('2024-03-01T00:00:00Z')
    expect(b.wouldExceed(march - 1)).toBe(true)
    expect(b.wouldExceed(march)).toBe(false)
    expect(b.spentUsd).toBe(0)
  })

  test('retryAfterMs runs to the start of the next period', () => {
    const cases: Array<[BudgetPeriod, string, number | null]> = [
      ['day', '2024-05-05T18:00:00Z', 6 * HOUR],
      ['week', '2024-03-10T12:00:00Z', 12 * HOUR],
      ['month', '2023-02-28T12:00:00Z', 12 * HOUR],
      ['month', '2024-02-28T12:00:00Z', 36 * HOUR],
      ['month', '2024-01-31T00:00:00Z', 24 * HOUR],
      ['total', '2024-05-05T18:00:00Z', null],
    ]
    for (const [period, now, ms] of cases) expect(new BudgetTracker(1, period).retryAfterMs(at(now)), `${period} ${now}`).toBe(ms)
  })

  test('a seed for a period that has ended is dropped', () => {
    const b = new BudgetTracker(5, 'day')
    b.seed(5, at('2024-05-04T00:00:00Z'))
    expect(b.wouldExceed(at('2024-05-04T23:00:00Z'))).toBe(true)
    expect(b.wouldExceed(at('2024-05-05T00:00:01Z'))).toBe(false)
  })

  test('a seed with any instant inside the period means that period', () => {
    const b = new BudgetTracker(5, 'total')
    b.seed(5, at('2024-05-04T13:14:15Z'))
    expect(b.wouldExceed(at('2030-01-01T00:00:00Z'))).toBe(true)
    expect(b.retryAfterMs(at('2030-01-01T00:00:00Z'))).toBeNull()
  })

  test('a wall clock stepped back keeps the current period and its spend', () => {
    const b = new BudgetTracker(1, 'day')
    b.charge(at('2024-05-05T00:00:05Z'), 1)
    expect(b.wouldExceed(at('2024-05-04T23:59:59Z'))).toBe(true)
  })

  test('charges land in the period they are made in', () => {
    const b = new BudgetTracker(1, 'week')
    b.charge(at('2024-03-10T23:59:00Z'), 0.9) // Sunday
    b.charge(at('2024-03-11T00:01:00Z'), 0.2) // Monday: a new week
    expect(b.spentUsd).toBe(0.2)
    expect(b.wouldExceed(at('2024-03-11T00:02:00Z'))).toBe(false)
  })

  test('a limit of 0 refuses every request; a raised limit keeps what was spent', () => {
    const zero = new BudgetTracker(0, 'day')
    expect(zero.wouldExceed(at('2024-05-05T00:00:00Z'))).toBe(true)
    const b = new BudgetTracker(1, 'day')
    const now = at('2024-05-05T10:00:00Z')
    b.charge(now, 1)
    expect(b.wouldExceed(now)).toBe(true)
    b.setLimit(2)
    expect(b.limitUsd).toBe(2)
    expect(b.wouldExceed(now)).toBe(false)
    expect(b.spentUsd).toBe(1)
  })

  test('negative or non-finite limits are refused; non-positive charges add nothing', () => {
    expect(() => new BudgetTracker(-1, 'day')).toThrow(RangeError)
    expect(() => new BudgetTracker(Infinity, 'day')).toThrow(RangeError)
    const b = new BudgetTracker(1, 'total')
    b.charge(0, -5)
    b.charge(0, 0)
    expect(b.spentUsd).toBe(0)
  })
})
