import { describe, expect, it } from 'vitest'
import { nothingLearned } from '../../../../src/core/limit/learned-state.js'
import { RefusalRecord } from '../../../../src/core/limit/refusal-record.js'

const t0 = Date.UTC(2026, 11, 7, 12, 0, 0)

describe('RefusalRecord', () => {
  it('counts 429s by type and remembers the last one', () => {
    const r = new RefusalRecord()
    r.refused(t0, 'concurrent')
    r.refused(t0 + 1, 'rpm')
    r.refused(t0 + 2, 'rpm')
    r.refused(t0 + 3, 'tpm')
    r.refused(t0 + 4, 'unknown')
    expect([r.concurrent429Count, r.rpm429Count, r.tpm429Count, r.last429At, r.last429Type]).toEqual([1, 2, 1, t0 + 4, 'unknown'])
    r.reset()
    expect([r.concurrent429Count, r.rpm429Count, r.tpm429Count, r.last429At, r.last429Type]).toEqual([0, 0, 0, null, null])
  })

  it('restores what was persisted', () => {
    const r = new RefusalRecord()
    r.restore({ ...nothingLearned, concurrent429Count: 3, rpm429Count: 4, tpm429Count: 5, last429At: t0, last429Type: 'tpm' })
    expect([r.concurrent429Count, r.rpm429Count, r.tpm429Count, r.last429At, r.last429Type]).toEqual([3, 4, 5, t0, 'tpm'])
  })

  it('the highest level taken at once counts for a minute from the last success', () => {
    const r = new RefusalRecord()
    expect(r.acceptedRecently(t0)).toBe(0)
    r.accepted(t0, 5)
    r.accepted(t0 + 30_000, 3)
    expect(r.acceptedRecently(t0 + 30_000)).toBe(5)
    expect(r.acceptedRecently(t0 + 90_000)).toBe(5)
    expect(r.acceptedRecently(t0 + 90_001)).toBe(0)
    r.accepted(t0 + 200_000, 2) // a new window starts from this level
    expect(r.acceptedRecently(t0 + 200_000)).toBe(2)
  })
})
