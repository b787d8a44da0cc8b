import { describe, expect, it } from 'vitest'
import { createStrategy, defaultStrategy, strategyNames, type StrategyName } from '../../../../src/core/balance/index.js'
import { cand, prng } from './helpers.js'

// The contract every strategy keeps, run against each (hono's shared-suite habit).
const built = strategyNames

describe('createStrategy', () => {
  it('builds every named strategy, each with its own name', () => {
    for (const name of built) expect(createStrategy(name).name).toBe(name)
  })

  it('rejects an unknown name from untyped config', () => {
    expect(() => createStrategy('fastest' as StrategyName)).toThrow(/unknown balancing strategy "fastest"/)
  })

  it('builds a fresh instance each time (state is per pool)', () => {
    expect(createStrategy('weighted')).not.toBe(createStrategy('weighted'))
  })

  it('defaults to p2c', () => {
    expect(defaultStrategy).toBe('p2c')
  })
})

for (const name of built) {
  describe(`strategy contract: ${name}`, () => {
    it('returns -1 for no candidates', () => {
      expect(createStrategy(name).pick([], 'k', prng(1))).toBe(-1)
      expect(createStrategy(name).pick([], null, prng(1))).toBe(-1)
    })

    it('returns 0 for one candidate', () => {
      expect(createStrategy(name).pick([cand('only', { inflight: 3, ttftMs: 900 })], 'k', prng(1))).toBe(0)
    })

    it('always returns an index into the array, over varied sets and loads', () => {
      const s = createStrategy(name)
      const rand = prng(99)
      for (let i = 0; i < 2000; i++) {
        const n = 1 + Math.floor(rand() * 6)
        const cs = Array.from({ length: n }, (_, j) => cand(`k${j}`, {
          weight: Math.floor(rand() * 4),
          inflight: Math.floor(rand() * 10),
          limit: 1 + Math.floor(rand() * 10),
          waitMs: rand() < 0.7 ? 0 : Math.floor(rand() * 1000),
          ttftMs: rand() < 0.3 ? null : 50 + rand() * 2000,
          // Scraped server load, for `metrics`; absent, null or stale on some.
          ...(rand() < 0.5 ? {} : { queueDepth: rand() < 0.2 ? null : Math.floor(rand() * 5), serverRunning: Math.floor(rand() * 300), cacheUsage: rand() < 0.2 ? null : rand() }),
        }))
        const at = s.pick(cs, rand() < 0.5 ? null : `s${i % 37}`, rand)
        expect(Number.isInteger(at) && at >= 0 && at < n, `pick ${i}: ${at} of ${n}`).toBe(true)
      }
    })
  })
}
