import { describe, expect, it } from 'vitest'
import type { RequestContext } from '../../../src/context.js'
import { History, type GaugeReader } from '../../../src/dashboard/history.js'

function done(model: string, opts: { ok?: boolean; queuedMs?: number; totalMs?: number; ttftMs?: number } = {}): RequestContext {
  const ok = opts.ok ?? true
  return {
    servingRoute: { name: model }, provider: { id: 'p' }, key: { id: 'k' }, outcome: ok ? 'success' : 'upstream_error', errorCode: ok ? null : 'upstream_error',
    queuedMs: opts.queuedMs ?? 0, startedAt: 0, upstreamStartedAt: 1, upstreamFirstByteAt: 1 + (opts.ttftMs ?? 10),
  } as unknown as RequestContext
}

function gauges(state: { depth: number; r429: number; limit: number }): GaugeReader {
  return {
    queueDepths: () => [[['m', 'normal'], state.depth], [['m', 'low'], 0]],
    keys: () => [{ id: 'p~k', r429: state.r429, rateRpm: 60, limitRpm: Infinity, limit: state.limit, learned: state.limit, inFlight: 1 }],
  }
}

describe('History', () => {
  it('folds the requests since the last sample into per-second rates and percentiles, and the gauges into the same point', () => {
    const h = new History({ intervalMs: 1000, points: 4 })
    const state = { depth: 3, r429: 0, limit: 8 }
    for (let i = 0; i < 10; i++) h.record(done('m', { queuedMs: i < 9 ? 20 : 2000 }), 100)
    h.record(done('m', { ok: false }), 100)
    state.r429 = 2
    h.sample(gauges(state), 1_000)
    const s = h.snapshot()
    expect(s.times).toEqual([1_000])
    expect(s.models.m?.rps).toEqual([11])
    expect(s.models.m?.errors_per_s).toEqual([1])
    expect(s.models.m?.wait_p50_ms).toEqual([20])
    expect(s.models.m?.wait_p99_ms).toEqual([2000])
    expect(s.models.m?.queue_normal).toEqual([3])
    expect(s.keys['p~k']?.rps).toEqual([11])
    expect(s.keys['p~k']?.r429_per_s).toEqual([0])
    // The next interval: only what happened since.
    h.record(done('m'), 100)
    state.r429 = 5
    h.sample(gauges(state), 2_000)
    const t = h.snapshot()
    expect(t.models.m?.rps).toEqual([11, 1])
    expect(t.keys['p~k']?.r429_per_s).toEqual([0, 3])
    expect(h.latest()?.time).toBe(2_000)
  })

  it('keeps a fixed number of points, oldest first, and marks quiet intervals empty', () => {
    const h = new History({ intervalMs: 1000, points: 3 })
    const state = { depth: 0, r429: 0, limit: 8 }
    for (let i = 1; i <= 5; i++) {
      state.limit = i
      h.sample(gauges(state), i * 1000)
    }
    const s = h.snapshot()
    expect(s.times).toEqual([3000, 4000, 5000])
    expect(s.keys['p~k']?.concurrency_limit).toEqual([3, 4, 5])
    expect(s.models.m?.latency_p50_ms).toEqual([null, null, null])
  })
})
