import { describe, expect, it } from 'vitest'
import type { ConsumerRates, SettlementItem } from '../../../src/state/consumer-rates.js'
import { StateScriptError } from '../../../src/state/errors.js'
import { SettlementBatch } from '../../../src/state/settlement-batch.js'
import { FakeTime } from '../../support/fake-time.js'

// Finished requests' settlements go to shared state together: summed per consumer, one
// settleMany per flush period (or at once when many consumers wait), nothing when there is
// nothing to settle, and a failed flush reported with what it carried.

function recorder(fail = false, refuses: (item: SettlementItem) => boolean = () => false) {
  const flushes: SettlementItem[][] = []
  const rates: ConsumerRates = {
    admit: () => Promise.reject(new Error('unused')),
    settle: () => Promise.reject(new Error('unused')),
    settleMany: async (items) => {
      flushes.push([...items])
      if (fail) throw new Error('Redis away')
      return items.filter(refuses)
    },
  }
  return { rates, flushes }
}

const day = (pico: number) => ({ period: 'day' as const, pico })

describe('SettlementBatch', () => {
  it('sums settlements per consumer and sends them in one call per flush period', async () => {
    const time = new FakeTime()
    const { rates, flushes } = recorder()
    const batch = new SettlementBatch(rates, { timers: time, flushMs: 20 })
    batch.add('a', { tpm: 1000, charged: 100, used: 40, budget: day(5) })
    batch.add('a', { tpm: 1000, charged: 100, used: 130, budget: day(7) })
    batch.add('b', { tpm: null, charged: 10, used: 3, budget: day(2) })
    // Nothing to settle: no entry, no call.
    batch.add('c', { tpm: 1000, charged: 10, used: 10, budget: null })
    expect(batch.pending).toBe(2)
    time.advance(19)
    expect(flushes).toEqual([])
    time.advance(1)
    await batch.flush()
    expect(flushes).toEqual([
      [
        { consumerId: 'a', settlement: { tpm: 1000, charged: 0, used: -30, budget: day(12) } },
        { consumerId: 'b', settlement: { tpm: null, charged: 0, used: 0, budget: day(2) } },
      ],
    ])
    expect(time.pending).toBe(0)
    await batch.flush()
    expect(flushes).toHaveLength(1)
  })

  it('sends at once when maxItems consumers wait', async () => {
    const time = new FakeTime()
    const { rates, flushes } = recorder()
    const batch = new SettlementBatch(rates, { timers: time, maxItems: 2 })
    batch.add('a', { tpm: 1000, charged: 1, used: 2, budget: null })
    batch.add('b', { tpm: 1000, charged: 1, used: 2, budget: null })
    await batch.flush()
    expect(flushes.map((f) => f.length)).toEqual([2])
    expect(time.pending).toBe(0)
  })

  it('reports a failed flush with what it carried', async () => {
    const errors: string[] = []
    const { rates } = recorder(true)
    const batch = new SettlementBatch(rates, { timers: new FakeTime(), onError: (err, items) => void errors.push(`${(err as Error).message}: ${items.map((i) => i.consumerId).join(',')}`) })
    batch.add('a', { tpm: null, charged: 0, used: 0, budget: day(1) })
    await batch.flush()
    expect(errors).toEqual(['Redis away: a'])
  })

  it('reports a flush whose spend was refused for some consumers with only theirs (the rest was applied)', async () => {
    const reported: [unknown, string[]][] = []
    const { rates } = recorder(false, (item) => item.consumerId === 'b')
    const batch = new SettlementBatch(rates, { timers: new FakeTime(), onError: (err, items) => void reported.push([err, items.map((i) => i.consumerId)]) })
    batch.add('a', { tpm: null, charged: 0, used: 0, budget: day(1) })
    batch.add('b', { tpm: null, charged: 0, used: 0, budget: day(2) })
    await batch.flush()
    expect(reported).toEqual([[expect.any(StateScriptError), ['b']]])
  })
})
