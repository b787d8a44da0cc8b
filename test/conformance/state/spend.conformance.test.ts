import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { nextPeriodStart, periodStart } from '../../../src/core/admit/budget.js'
import type { SharedState } from '../../../src/state/shared-state.js'
import type { SpendStanding } from '../../../src/state/spend.js'
import { backends, startOfTests, type StateCluster } from './backends.js'

const DAY = 86_400_000
const usd = (x: number) => Math.round(x * 1e12)

describe.each(backends)('budget spend: $name', (backend) => {
  let cluster: StateCluster
  let a: SharedState
  let b: SharedState
  let now: number

  beforeEach(async () => {
    cluster = await backend.cluster()
    a = await cluster.instance('a')
    b = await cluster.instance('b')
    now = startOfTests
  })
  afterEach(() => cluster.dispose())

  const advance = (ms: number) => {
    cluster.advance(ms)
    now += ms
  }

  it('sums every instance\'s charges in the current period, exactly, one round trip each', async () => {
    let standing: SpendStanding | undefined
    for (let i = 0; i < 10; i++) {
      const s = i % 2 === 0 ? a : b
      expect(await cluster.roundTrips(s, async () => (standing = await s.spend.charge('team', 'month', usd(0.1))))).toBe(backend.trips(1))
    }
    // Ten charges of $0.1 are $1 exactly, not 0.9999999999999999.
    expect(standing!.spentPico).toBe(usd(1))
    expect(await b.spend.read('team', 'month')).toEqual({ spentPico: usd(1), periodStart: Date.UTC(2027, 0, 1), resetMs: Date.UTC(2027, 1, 1) - now })
    expect((await b.spend.read('team', 'day')).spentPico).toBe(0)
    expect((await b.spend.read('someone-else', 'month')).spentPico).toBe(0)
  })

  it('starts each UTC day, ISO week (Monday) and month from zero', async () => {
    await a.spend.charge('c', 'day', 5)
    await a.spend.charge('c', 'week', 7)
    // 2027-01-15 is a Friday: the week began on Monday the 11th.
    expect(await b.spend.read('c', 'week')).toEqual({ spentPico: 7, periodStart: Date.UTC(2027, 0, 11), resetMs: Date.UTC(2027, 0, 18) - now })
    advance(12 * 3_600_000 - 1) // 23:59:59.999
    expect((await b.spend.read('c', 'day')).spentPico).toBe(5)
    advance(1)
    expect(await b.spend.read('c', 'day')).toEqual({ spentPico: 0, periodStart: Date.UTC(2027, 0, 16), resetMs: DAY })
    advance(2 * DAY) // Monday the 18th
    expect(await b.spend.read('c', 'week')).toMatchObject({ spentPico: 0, periodStart: Date.UTC(2027, 0, 18) })
  })

  it('agrees with src/core/admit/budget.ts on months and weeks at 100 instants over four years (a leap February included)', async () => {
    for (let i = 0; i < 100; i++) {
      const s = await a.spend.read('cal', 'month')
      const start = periodStart('month', now)
      expect({ at: new Date(now).toISOString(), ...s }).toEqual({ at: new Date(now).toISOString(), spentPico: 0, periodStart: start, resetMs: nextPeriodStart('month', start)! - now })
      const w = await a.spend.read('cal', 'week')
      expect(w.periodStart).toBe(periodStart('week', now))
      advance(14 * DAY + 7 * 3_600_000 + 1234)
    }
  })

  it('never rolls a total budget', async () => {
    await a.spend.charge('t', 'total', usd(3))
    advance(400 * DAY)
    expect(await b.spend.read('t', 'total')).toEqual({ spentPico: usd(3), periodStart: 0, resetMs: null })
  })

  it('is seeded from the ledger once per period; a seed for a period that has ended is dropped', async () => {
    const month = Date.UTC(2027, 0, 1)
    expect((await a.spend.seed('s', 'month', month, usd(2))).spentPico).toBe(usd(2))
    await a.spend.charge('s', 'month', usd(1))
    // Another instance starting later seeds from a ledger that already holds the first charge: no double count.
    expect((await b.spend.seed('s', 'month', month, usd(3))).spentPico).toBe(usd(3))
    expect((await b.spend.seed('t', 'month', Date.UTC(2026, 11, 1), usd(9))).spentPico).toBe(0)
    // A charge that came before any seed stands when the ledger's sum is smaller.
    await a.spend.charge('u', 'month', usd(5))
    expect((await b.spend.seed('u', 'month', month, usd(4))).spentPico).toBe(usd(5))
  })
})
