import { describe, expect, it } from 'vitest'
import { createMemoryState } from '../../../src/state/memory/index.js'
import { SpendBacklog } from '../../../src/state/spend-backlog.js'
import type { SpendCounters } from '../../../src/state/spend.js'

describe('SpendBacklog', () => {
  it('sums what is owed per consumer and period, charges it once, and keeps what failed for the next flush', async () => {
    const state = createMemoryState()
    const backlog = new SpendBacklog()
    backlog.owe('a', 'month', 5)
    backlog.owe('a', 'month', 7)
    backlog.owe('a', 'day', 1)
    backlog.owe('b', 'month', 0)
    expect(backlog.size).toBe(2)
    let failing = true
    const flaky: SpendCounters = { ...state.spend, charge: (id, p, pico) => (failing && p === 'day' ? Promise.reject(new Error('away')) : state.spend.charge(id, p, pico)) }
    await backlog.flush(flaky)
    expect((await state.spend.read('a', 'month')).spentPico).toBe(12)
    expect(backlog.size).toBe(1)
    failing = false
    await backlog.flush(flaky)
    await backlog.flush(flaky)
    expect((await state.spend.read('a', 'day')).spentPico).toBe(1)
    expect((await state.spend.read('a', 'month')).spentPico).toBe(12)
    expect(backlog.size).toBe(0)
  })

  it('is bounded: past maxEntries, new consumers are dropped and counted', () => {
    const backlog = new SpendBacklog({ maxEntries: 2 })
    backlog.owe('a', 'month', 1)
    backlog.owe('b', 'month', 1)
    backlog.owe('c', 'month', 1)
    backlog.owe('a', 'month', 1)
    expect({ size: backlog.size, dropped: backlog.dropped }).toEqual({ size: 2, dropped: 1 })
  })
})
