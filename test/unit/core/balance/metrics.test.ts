import { describe, expect, it } from 'vitest'
import { LeastBusy, MetricsAware, metricsScore, tieBand, type Candidate } from '../../../../src/core/balance/index.js'
import { cand, noRand, prng, shares, type TestCandidate } from './helpers.js'

/** A candidate with a fresh scrape: waiting, running, KV-cache use. */
function vllm(id: string, waiting: number, running: number, kv: number | null, over: Partial<Candidate> = {}): TestCandidate {
  return cand(id, { queueDepth: waiting, serverRunning: running, cacheUsage: kv, limit: Infinity, ...over })
}

describe('metricsScore', () => {
  const cases: { name: string; c: Candidate; want: number }[] = [
    { name: 'idle server', c: vllm('a', 0, 0, 0), want: 0 },
    { name: 'each waiting request counts whole', c: vllm('a', 3, 0, 0), want: 3 },
    { name: 'running counts as a share of a 256 batch', c: vllm('a', 0, 128, 0), want: 0.5 },
    { name: 'own in-flight counts as a share of a batch too', c: vllm('a', 0, 0, null, { inflight: 64 }), want: 0.25 },
    { name: 'KV use counts linearly up to the knee', c: vllm('a', 0, 0, 0.9), want: 0.9 },
    { name: 'KV 0.95: +1', c: vllm('a', 0, 0, 0.95), want: 0.95 + 1 },
    { name: 'KV 0.98: +4', c: vllm('a', 0, 0, 0.98), want: 0.98 + 4 },
    { name: 'KV 0.99: +9', c: vllm('a', 0, 0, 0.99), want: 0.99 + 9 },
    { name: 'KV full: +10, finite', c: vllm('a', 0, 0, 1), want: 1 + 10 },
    { name: 'unknown KV use adds nothing', c: vllm('a', 1, 0, null), want: 1 },
    { name: 'no fresh scrape: only the own in-flight share', c: cand('a', { inflight: 32, queueDepth: null, cacheUsage: 1 }), want: 0.125 },
    { name: 'fields absent: only the own in-flight share', c: cand('a', { inflight: 32 }), want: 0.125 },
  ]
  for (const c of cases) it(c.name, () => expect(metricsScore(c.c)).toBeCloseTo(c.want, 9))
})

describe('metrics strategy', () => {
  const cases: { name: string; cs: Candidate[]; want: string }[] = [
    { name: 'the empty queue beats a busy batch', cs: [vllm('a', 3, 0, 0.1), vllm('b', 0, 100, 0.5)], want: 'b' },
    { name: 'a nearly full KV cache loses to a short queue', cs: [vllm('a', 0, 0, 0.99), vllm('b', 2, 0, 0.3)], want: 'b' },
    { name: 'below the knee KV use only tips the balance', cs: [vllm('a', 0, 0, 0.85), vllm('b', 1, 0, 0)], want: 'a' },
    { name: 'fewer running wins among empty queues', cs: [vllm('a', 0, 200, 0), vllm('b', 0, 20, 0)], want: 'b' },
    { name: 'own in-flight breaks what the scrape cannot see yet', cs: [vllm('a', 0, 0, 0, { inflight: 30 }), vllm('b', 0, 0, 0)], want: 'b' },
    { name: 'a server without metrics is taken as idle but for its in-flight', cs: [vllm('a', 1, 0, 0), cand('b', { inflight: 2 })], want: 'b' },
    { name: '… and loses once its in-flight outweighs the other\'s load', cs: [vllm('a', 0, 0, 0), cand('b', { inflight: 30 })], want: 'a' },
    { name: 'a stale scrape\'s KV use is not held against it', cs: [cand('a', { queueDepth: null, cacheUsage: 1 }), vllm('b', 1, 0, 0)], want: 'a' },
    { name: 'a NaN field never wins', cs: [vllm('a', NaN, 0, 0), vllm('b', 5, 0, 0)], want: 'b' },
    { name: 'scores just outside the tie band do not tie', cs: [vllm('a', 0, 14, 0), vllm('b', 0, 0, 0)], want: 'b' },
  ]
  for (const c of cases) {
    it(c.name, () => {
      const s = new MetricsAware()
      expect(c.cs[s.pick(c.cs, null, noRand)]!.id).toBe(c.want)
    })
  }

  it('breaks ties within the band by weight', () => {
    // 10 running of 256 is 0.039 apart: inside the band, so a tie.
    expect(10 / 256).toBeLessThan(tieBand)
    const cs = [vllm('a', 0, 10, 0, { weight: 3 }), vllm('b', 0, 0, 0, { weight: 1 }), vllm('c', 2, 0, 0, { weight: 100 })]
    const s = new MetricsAware()
    const rand = prng(5)
    const picks = Array.from({ length: 8_000 }, () => cs[s.pick(cs, null, rand)]!.id)
    const [a, b, c] = shares(['a', 'b', 'c'], picks)
    expect(a).toBeCloseTo(0.75, 1)
    expect(b).toBeCloseTo(0.25, 1)
    expect(c).toBe(0)
  })

  it('a zero weight never wins a tie against a positive one; all zero is uniform', () => {
    const s = new MetricsAware()
    const rand = prng(8)
    const mixed = [vllm('a', 0, 0, 0, { weight: 0 }), vllm('b', 0, 0, 0, { weight: 2 })]
    for (let i = 0; i < 500; i++) expect(s.pick(mixed, null, rand)).toBe(1)
    const zero = [vllm('a', 0, 0, 0, { weight: 0 }), vllm('b', 0, 0, 0, { weight: 0 })]
    const picks = Array.from({ length: 4_000 }, () => zero[s.pick(zero, null, rand)]!.id)
    expect(shares(['a', 'b'], picks)[0]).toBeCloseTo(0.5, 1)
  })

  it('calls rand() only when there is a tie', () => {
    const cs = [vllm('a', 1, 0, 0), vllm('b', 0, 0, 0), vllm('c', 4, 0, 0)]
    expect(new MetricsAware().pick(cs, null, noRand)).toBe(1)
  })

  it('spreads requests between equal servers as each pick adds to in-flight (no herding between scrapes)', () => {
    const cs = [vllm('a', 0, 50, 0.3), vllm('b', 0, 50, 0.3)]
    const s = new MetricsAware()
    const rand = prng(21)
    for (let i = 0; i < 200; i++) cs[s.pick(cs, null, rand)]!.inflight++
    // Never more than a tie band's worth of requests (0.05 × 256 ≈ 13) apart.
    expect(Math.abs(cs[0]!.inflight - cs[1]!.inflight)).toBeLessThanOrEqual(Math.ceil(tieBand * 256))
  })

  it('sends to the server with room until the loaded one drains', () => {
    const cs = [vllm('a', 4, 250, 0.97), vllm('b', 0, 10, 0.2)]
    const s = new MetricsAware()
    const rand = prng(2)
    for (let i = 0; i < 100; i++) cs[s.pick(cs, null, rand)]!.inflight++
    expect(cs.map((c) => c.inflight)).toEqual([0, 100])
  })

  it('without metrics anywhere it is least-busy, with least-busy\'s round-robin ties', () => {
    const make = (): TestCandidate[] => [cand('a', { inflight: 1 }), cand('b'), cand('c'), cand('d', { inflight: 1 })]
    const m = new MetricsAware()
    const l = new LeastBusy()
    const cs = make()
    const ls = make()
    const got = Array.from({ length: 8 }, () => cs[m.pick(cs, null, noRand)]!.id).join('')
    const want = Array.from({ length: 8 }, () => ls[l.pick(ls, null, noRand)]!.id).join('')
    expect(got).toBe(want)
    expect(got.slice(0, 4)).toBe('bbcb')
  })

  it('handles no candidates and one', () => {
    expect(new MetricsAware().pick([], null, noRand)).toBe(-1)
    expect(new MetricsAware().pick([vllm('a', 9, 9, 1)], null, noRand)).toBe(0)
  })
})
