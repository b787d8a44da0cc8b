import { describe, expect, it } from 'vitest'
import { BreakerRegistry, defaultBreakerSettings, ejectionCap, undemotedFirst, type BreakerSettings, type KeyBreaker } from '../../../../src/core/breaker/index.js'
import { mulberry32 } from '../../../../src/simulator/faults/prng.js'

// The soak of issue 12 item 11, in simulated time: three keys of one model, 150 requests a
// second, every upstream answer a 500 with probability 5 %, each failure retried on another key
// (at most 2 retries), keys chosen at random among those whose breaker lets a request through
// (demoted keys last, as the scheduler does). Seeded and on a fake clock: the same run every time.

interface Run {
  requests: number
  clientErrors: number
  /** Times a key went out. */
  ejections: number
  /** Most keys out at the same time. */
  mostOut: number
  /** Requests that found no key able to take them at their first attempt. */
  noKey: number
  /** Per key, the simulated ms at which it first went out after `failFrom`, or null. */
  outAfter: (number | null)[]
}

function soak(opts: {
  seconds: number
  rate?: number
  errorRate: (key: number, t: number) => number
  settings?: Partial<BreakerSettings>
  seed?: number
  failFrom?: number
}): Run {
  const rng = mulberry32(opts.seed ?? 1)
  const registry = new BreakerRegistry(rng)
  const keys: KeyBreaker[] = [1, 2, 3].map((i) => registry.obtain('sim', `k${i}`, { ...defaultBreakerSettings, ...opts.settings }))
  registry.setGroups([keys.map((k) => k.id)])
  const run: Run = { requests: 0, clientErrors: 0, ejections: 0, mostOut: 0, noKey: 0, outAfter: [null, null, null] }
  for (const k of keys) {
    k.onChange = (b) => {
      if (b.out && b.state(t) === 'open') run.ejections++
    }
  }
  const failFrom = opts.failFrom ?? Infinity
  const rate = opts.rate ?? 150
  const end = opts.seconds * 1000
  const eligible: KeyBreaker[] = []
  const holder: { breaker: KeyBreaker }[] = keys.map((breaker) => ({ breaker }))
  let t = 0
  while (t < end) {
    t += (-Math.log(1 - rng()) / rate) * 1000
    run.requests++
    const tried = new Set<KeyBreaker>()
    let served = false
    for (let attempt = 0; attempt < 3 && !served; attempt++) {
      let n = 0
      for (const h of holder) if (!tried.has(h.breaker) && h.breaker.wait(t) === 0) eligible[n++] = h.breaker
      if (n === 0) {
        if (attempt === 0) run.noKey++
        break
      }
      const view = eligible.slice(0, n).map((breaker) => ({ breaker }))
      n = undemotedFirst(view, n, t)
      const b = view[Math.floor(rng() * n)]!.breaker
      tried.add(b)
      const trial = b.dispatched(t)
      const i = keys.indexOf(b)
      if (rng() < opts.errorRate(i, t)) b.failed(t, 'http_5xx', trial)
      else {
        b.succeeded(t, trial)
        served = true
      }
    }
    if (!served) run.clientErrors++
    let out = 0
    keys.forEach((k, i) => {
      if (!k.out) return
      out++
      if (t >= failFrom && run.outAfter[i] === null) run.outAfter[i] = t - failFrom
    })
    run.mostOut = Math.max(run.mostOut, out)
  }
  return run
}

const noise = (): number => 0.05

describe('5 % random 500s on three keys at 150 requests/s', () => {
  it('ten simulated minutes: no key is ever out, and retries keep client errors far below 0.1 %', () => {
    for (const seed of [1, 2, 3]) {
      const r = soak({ seconds: 600, errorRate: noise, seed })
      expect(r.requests).toBeGreaterThan(85_000)
      expect(r.ejections, `seed ${seed}`).toBeLessThanOrEqual(1)
      expect(r.mostOut).toBeLessThanOrEqual(ejectionCap(3, defaultBreakerSettings.maxEjectionPercent))
      expect(r.noKey).toBe(0)
      expect(r.clientErrors / r.requests, `seed ${seed}`).toBeLessThan(0.001)
    }
  })

  it('the same noise under the rule it replaces (3 in a row, no cap) takes keys out again and again', () => {
    // failureRate 1 turns the rate rule and the volume scaling off: only the run of 3 counts.
    const old = soak({ seconds: 600, errorRate: noise, settings: { failureThreshold: 3, failureRate: 1, maxEjectionPercent: 100 } })
    expect(old.ejections).toBeGreaterThan(5)
    expect(old.mostOut).toBeGreaterThanOrEqual(1)
  })

  it('three times the noise (15 %) never takes the model below its cap', () => {
    const r = soak({ seconds: 300, errorRate: () => 0.15 })
    expect(r.mostOut).toBeLessThanOrEqual(1)
    expect(r.noKey).toBe(0)
  })
})

describe('a key that really fails is out within 5 s', () => {
  for (const share of [0.5, 0.8, 1]) {
    it(`k3 failing ${share * 100} % of its requests after a minute of noise`, () => {
      for (const seed of [1, 2, 3, 4, 5]) {
        const failFrom = 60_000
        const r = soak({ seconds: 75, seed, failFrom, errorRate: (i, t) => (i === 2 && t >= failFrom ? share : 0.05) })
        expect(r.outAfter[2], `seed ${seed}`).not.toBeNull()
        expect(r.outAfter[2]!, `seed ${seed}`).toBeLessThanOrEqual(5_000)
        expect(r.outAfter[0]).toBeNull()
        expect(r.outAfter[1]).toBeNull()
      }
    })
  }
})
