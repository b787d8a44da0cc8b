import { describe, expect, it } from 'vitest'
import { LimitRegistry, limitId } from '../../../../src/core/limit/registry.js'
import type { KeyLearning } from '../../../../src/store/types.js'

const stored = (over: Partial<KeyLearning> = {}): KeyLearning => ({
  id: 'sim~k1',
  provider: 'sim',
  key: 'k1',
  override: null,
  learnedLimit: 12.5,
  acceptedLevel: 14,
  concurrent429Count: 3,
  rpm429Count: 1,
  tpm429Count: 0,
  last429At: 1_700_000_000_000,
  last429Type: 'concurrent',
  lastProbeAt: null,
  history: [{ timestamp: '2026-11-22T10:00:00.000Z', old_limit: 15, new_limit: 12, reason: 'concurrent_429', inflight: 15 }],
  ...over,
})

describe('LimitRegistry', () => {
  it('ids are provider~key', () => {
    expect(limitId('openai', 'oa-1')).toBe('openai~oa-1')
  })

  it('a reload gets the same limit object back, with its permits', () => {
    const r = new LimitRegistry()
    const a = r.obtain('sim', 'k1', null)
    a.acquire()
    const b = r.obtain('sim', 'k1', null)
    expect(b).toBe(a)
    expect(b.inflight).toBe(1)
  })

  it('the config value sets the mode when no admin override exists', () => {
    const r = new LimitRegistry()
    expect(r.obtain('sim', 'k1', 4).effective).toBe(4)
    expect(r.obtain('sim', 'k1', null).adaptive).toBe(true)
  })

  it('restores stored state into limits already configured, and keeps the rest for later', () => {
    const r = new LimitRegistry()
    const l = r.obtain('sim', 'k1', null)
    r.restore([stored(), stored({ id: 'sim~k2', key: 'k2', learnedLimit: 30 })])
    expect(l.learnedExact).toBe(12.5)
    expect(l.acceptedLevel).toBe(14)
    expect(l.history).toHaveLength(1)
    expect(r.get('sim~k2')).toBeUndefined()
    expect(r.obtain('sim', 'k2', null).effective).toBe(30)
  })

  it('an admin override wins over the config until the config changes that key', () => {
    const r = new LimitRegistry()
    r.obtain('sim', 'k1', 4)
    expect(r.override('sim~k1', 9, 1)?.effective).toBe(9)
    // A reload with the same file value keeps the admin's choice.
    expect(r.obtain('sim', 'k1', 4).effective).toBe(9)
    // The file now says 6: the file wins, and the override is gone.
    expect(r.obtain('sim', 'k1', 6).effective).toBe(6)
    expect(r.overrideOf('sim~k1')).toBeNull()
    expect(r.obtain('sim', 'k1', 4).effective).toBe(4)
  })

  it('an override to adaptive beats a fixed value in the file', () => {
    const r = new LimitRegistry()
    r.obtain('sim', 'k1', 4)
    r.override('sim~k1', null, 1)
    expect(r.obtain('sim', 'k1', 4).adaptive).toBe(true)
  })

  it('a stored override is applied at restore, unless the file changed meanwhile', () => {
    const kept = new LimitRegistry()
    const a = kept.obtain('sim', 'k1', null)
    kept.restore([stored({ override: { maxConcurrent: 3, configValue: null, setAt: 1 } })])
    expect(a.effective).toBe(3)

    const dropped = new LimitRegistry()
    const b = dropped.obtain('sim', 'k1', 5)
    dropped.restore([stored({ override: { maxConcurrent: 3, configValue: null, setAt: 1 } })])
    expect(b.effective).toBe(5)
    expect(dropped.overrideOf('sim~k1')).toBeNull()
  })

  it('takeChanged hands out each changed record once; unsaved hands it out again', () => {
    const r = new LimitRegistry()
    const l = r.obtain('sim', 'k1', null)
    r.obtain('sim', 'k2', null)
    expect(r.takeChanged().map((x) => x.id).sort()).toEqual(['sim~k1', 'sim~k2']) // never stored yet
    expect(r.takeChanged()).toEqual([])
    l.refused(1_000, 'concurrent', 5)
    const changed = r.takeChanged()
    expect(changed).toHaveLength(1)
    expect(changed[0]).toMatchObject({ id: 'sim~k1', provider: 'sim', key: 'k1', acceptedLevel: 4, concurrent429Count: 1, override: null })
    r.unsaved('sim~k1')
    expect(r.takeChanged()).toHaveLength(1)
  })

  it('tells its listener about every change, including limits created later', () => {
    const r = new LimitRegistry()
    let told = 0
    r.onChange = () => told++
    r.obtain('sim', 'k1', null).refused(1, 'rpm', 1)
    expect(told).toBe(1)
  })

  it('a key dropped and named again while its requests run gets the same limit, permits included', () => {
    const r = new LimitRegistry()
    const before = r.obtain('sim', 'k1', 2)
    before.acquire()
    r.retain(new Set())
    const after = r.obtain('sim', 'k1', 2)
    expect(after).toBe(before)
    expect(after.inflight).toBe(1)
  })

  it('forgets keys the config dropped but finds their state again when they come back', () => {
    const r = new LimitRegistry()
    r.obtain('sim', 'k1', null).refused(1, 'concurrent', 5)
    r.retain(new Set())
    expect(r.get('sim~k1')).toBeUndefined()
    expect(r.obtain('sim', 'k1', null).acceptedLevel).toBe(4)
  })
})
