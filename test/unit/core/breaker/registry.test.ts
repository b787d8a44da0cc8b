import { describe, expect, it } from 'vitest'
import { BreakerRegistry, breakerId, defaultBreakerSettings, type BreakerSettings, type KeyBreaker } from '../../../../src/core/breaker/index.js'

const settings = (over: Partial<BreakerSettings> = {}): BreakerSettings => ({ ...defaultBreakerSettings, ...over })

function trip(b: KeyBreaker, t: number): void {
  for (let i = 0; i < b.consecutiveFailures + 3; i++) b.failed(t, 'http_5xx', false)
}

describe('BreakerRegistry', () => {
  it('ids are provider~key', () => {
    expect(breakerId('openai', 'oa-1')).toBe('openai~oa-1')
    const b = new BreakerRegistry().obtain('openai', 'oa-1', settings())
    expect([b.id, b.provider, b.key]).toEqual(['openai~oa-1', 'openai', 'oa-1'])
  })

  it('creates on first use and hands back the same breaker, reconfigured, with its state kept', () => {
    const r = new BreakerRegistry()
    const a = r.obtain('sim', 'k1', settings({ probes: false }))
    trip(a, 0)
    const b = r.obtain('sim', 'k1', settings({ probes: true }))
    expect(b).toBe(a)
    expect(b.state(1)).toBe('open')
    expect(b.wantsProbe(1)).toBe(true) // the new settings apply
    expect(r.get('sim~k1')).toBe(a)
    expect(r.get('sim~k2')).toBeUndefined()
  })

  it('lists every breaker', () => {
    const r = new BreakerRegistry()
    r.obtain('sim', 'k1', settings())
    r.obtain('sim', 'k2', settings())
    r.obtain('sim', 'k1', settings())
    expect([...r.all()].map((b) => b.id)).toEqual(['sim~k1', 'sim~k2'])
  })

  it('retain drops the breakers of keys the config no longer names; a re-added key starts closed', () => {
    const r = new BreakerRegistry()
    const gone = r.obtain('sim', 'k1', settings())
    r.obtain('sim', 'k2', settings())
    trip(gone, 0)
    r.retain(new Set(['sim~k2']))
    expect(r.get('sim~k1')).toBeUndefined()
    expect([...r.all()].map((b) => b.id)).toEqual(['sim~k2'])
    const fresh = r.obtain('sim', 'k1', settings())
    expect(fresh).not.toBe(gone)
    expect(fresh.state(1)).toBe('closed')
  })

  it('passes its random source to every breaker', () => {
    const r = new BreakerRegistry(() => 0)
    const b = r.obtain('sim', 'k1', settings({ jitter: 0.1 }))
    trip(b, 0)
    expect(b.openUntil).toBeCloseTo(27_000, 6)
  })

  it('tells every listener of every transition, until it unsubscribes', () => {
    const r = new BreakerRegistry()
    const seen: string[][] = [[], []]
    const off0 = r.listen((b) => seen[0]!.push(`${b.id}:${b.state(0)}`))
    r.listen((b) => seen[1]!.push(b.id))
    const k1 = r.obtain('sim', 'k1', settings())
    const k2 = r.obtain('sim', 'k2', settings())
    trip(k1, 0)
    k2.disable(0, 'admin')
    off0()
    off0() // twice is harmless
    k2.enable(1)
    expect(seen[0]).toEqual(['sim~k1:open', 'sim~k2:disabled'])
    expect(seen[1]).toEqual(['sim~k1', 'sim~k2', 'sim~k2'])
  })

  it('listeners added after a breaker was created hear it too, and a listener may unsubscribe while being told', () => {
    const r = new BreakerRegistry()
    const k1 = r.obtain('sim', 'k1', settings())
    const calls: string[] = []
    const off = r.listen(() => {
      calls.push('a')
      off()
    })
    r.listen(() => calls.push('b'))
    trip(k1, 0)
    k1.enable(1)
    expect(calls).toEqual(['a', 'b', 'b'])
  })

  it('a dropped breaker no longer reaches the listeners', () => {
    const r = new BreakerRegistry()
    const k1 = r.obtain('sim', 'k1', settings())
    const calls: string[] = []
    r.listen((b) => calls.push(b.id))
    r.retain(new Set())
    trip(k1, 0)
    expect(calls).toEqual([])
  })
})
