import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { Pool } from 'undici'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { BreakerRegistry, defaultBreakerSettings } from '../../../src/core/breaker/index.js'
import { KeyPacer, type AttemptOutcome } from '../../../src/core/pacer/key-pacer.js'
import { Prober, probeRequest, type ProbeBreaker, type ProbePacer, type ProbeResult, type ProbeTarget } from '../../../src/health/index.js'
import { createMemoryState, MemoryBacking } from '../../../src/state/memory/index.js'
import { FakeBreakers, FakeTime, TestUpstream, json, settle, type Reply } from './helpers.js'

const secret = 'sk-secret-probe-1'
const chat = probeRequest('openai', 'meta/llama-3.1-8b-instruct')

let time: FakeTime
let upstream: TestUpstream
let pool: Pool
let breakers: FakeBreakers
let results: ProbeResult[]
let waiters: (() => void)[]
let prober: Prober

beforeEach(async () => {
  time = new FakeTime()
  upstream = await TestUpstream.start(time)
  pool = new Pool(upstream.origin, { connections: 4 })
  breakers = new FakeBreakers()
  results = []
  waiters = []
  prober = make()
})

afterEach(async () => {
  prober.close()
  await pool.destroy()
  await upstream.close()
})

function make(rand: () => number = () => 0, events: { listen: FakeBreakers['listen'] } = breakers): Prober {
  return new Prober({
    clock: time,
    breakers: events,
    rand,
    timers: time,
    onResult: (_t, r) => {
      results.push(r)
      const w = waiters
      waiters = []
      for (const f of w) f()
    },
  })
}

/** Resolves once every probe sent so far has reported. */
async function drain(): Promise<void> {
  await settle()
  await probesDone(prober.stats().reduce((n, s) => n + s.sent, 0))
}

/**
 * Moves time forward by `ms`, stopping at every timer on the way and letting the probe it
 * starts finish before going on: a probe's own timeout never fires just because the test
 * jumped past it.
 */
async function run(ms: number): Promise<void> {
  const end = time.now() + ms
  for (;;) {
    const next = time.dueTimes()[0]
    if (next === undefined || next > end) break
    time.advance(next - time.now())
    await drain()
  }
  time.advance(end - time.now())
}

/** Resolves once `n` probes have reported in all. */
async function probesDone(n: number): Promise<void> {
  while (results.length < n) await new Promise<void>((resolve) => waiters.push(resolve))
}

function target(breaker: ProbeBreaker, over: Partial<ProbeTarget> = {}): ProbeTarget {
  return {
    id: breaker.id,
    breaker,
    pacer: null,
    tokens: chat.tokens,
    dispatcher: pool,
    origin: upstream.origin,
    method: 'POST',
    path: '/v1/chat/completions',
    headers: ['authorization', `Bearer ${secret}`],
    body: chat.body,
    intervalMs: 30_000,
    timeoutMs: 10_000,
    ...over,
  }
}

/** A pacer whose waits the test scripts, recording every charge and settlement. */
class ScriptedPacer implements ProbePacer {
  readonly takes: number[] = []
  readonly settles: AttemptOutcome[] = []
  inflight = 0
  constructor(public waits: number[] = []) {}
  wait(_now: number, _tokens: number, _waiting: boolean): number {
    return this.waits.shift() ?? 0
  }
  take(now: number, _tokens: number): void {
    this.takes.push(now)
    this.inflight++
  }
  settled(_now: number, outcome: AttemptOutcome): void {
    this.inflight--
    this.settles.push(outcome)
  }
}

function starts(): number[] {
  return upstream.seen.map((r) => r.at)
}

describe('Prober: schedule', () => {
  it('never probes a key whose breaker does not want probes', () => {
    prober.setTargets([target(breakers.breaker('p~a'))])
    time.advance(600_000)
    expect(time.pending).toBe(0)
    expect(upstream.seen).toHaveLength(0)
    expect(prober.stats()[0]).toMatchObject({ id: 'p~a', sent: 0, nextAt: null })
  })

  it('probes one interval after the key went out, then once per interval while it stays out', async () => {
    const b = breakers.breaker('p~a')
    prober.setTargets([target(b)])
    b.set(true)
    expect(time.dueTimes()).toEqual([31_000])
    time.advance(29_999)
    expect(upstream.seen).toHaveLength(0)
    for (let i = 1; i <= 10; i++) {
      time.advance(i === 1 ? 1 : 30_000)
      await probesDone(i)
    }
    expect(starts()).toEqual(Array.from({ length: 10 }, (_, i) => 31_000 + i * 30_000))
    expect(b.passed).toEqual(starts())
    expect(b.failed).toEqual([])
    // The probe is the one-token chat request, with the key's credentials.
    expect(JSON.parse(upstream.seen[0]!.body)).toEqual({ model: 'meta/llama-3.1-8b-instruct', messages: [{ role: 'user', content: 'ping' }], max_tokens: 1 })
    expect(upstream.seen[0]!.headers).toMatchObject({ authorization: `Bearer ${secret}`, 'content-type': 'application/json' })
    expect(prober.stats()[0]).toMatchObject({ sent: 10, passed: 10, failed: 0, inFlight: false, nextAt: 331_000 })
  })

  it('jitter only lengthens the interval, by up to 10 %', () => {
    prober.close()
    prober = make(() => 0.999)
    const b = breakers.breaker('p~a')
    prober.setTargets([target(b)])
    b.set(true)
    expect(time.dueTimes()[0]).toBeGreaterThan(1_000 + 30_000 * 1.099)
    expect(time.dueTimes()[0]).toBeLessThanOrEqual(1_000 + 30_000 * 1.1)
  })

  it('keeps scheduled probes at least one interval apart under random breaker changes', async () => {
    prober.close()
    let seed = 11
    const rand = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)
    prober = make(rand)
    const b = breakers.breaker('p~a')
    const pacer = new ScriptedPacer()
    prober.setTargets([target(b, { pacer })])
    for (let step = 0; step < 300; step++) {
      if (rand() < 0.15) b.set(!b.wants)
      await run(Math.floor(rand() * 25_000))
    }
    const at = pacer.takes
    expect(at.length).toBeGreaterThan(20)
    expect(upstream.seen).toHaveLength(at.length)
    for (let i = 1; i < at.length; i++) expect(at[i]! - at[i - 1]!).toBeGreaterThanOrEqual(30_000)
  })

  it('stops when the key comes back, and starts one interval after it goes out again', async () => {
    const b = breakers.breaker('p~a')
    prober.setTargets([target(b)])
    b.set(true)
    time.advance(30_000)
    await probesDone(1)
    b.set(false) // a live trial closed it
    expect(time.pending).toBe(0)
    time.advance(100_000)
    expect(upstream.seen).toHaveLength(1)
    b.set(true) // at 131 000
    expect(time.dueTimes()).toEqual([161_000])
  })

  it('a key already out when the targets are set is first probed one interval later', () => {
    const b = breakers.breaker('p~a')
    b.wants = true
    prober.setTargets([target(b)])
    expect(time.dueTimes()).toEqual([31_000])
  })
})

describe('Prober: pacing', () => {
  it('a probe waits for the pacer: re-armed for exactly its wait, never sent early', async () => {
    const pacer = new ScriptedPacer([0, 5_000])
    const b = breakers.breaker('p~a')
    prober.setTargets([target(b, { pacer })])
    b.set(true)
    time.advance(30_000)
    await probesDone(1)
    expect(pacer.takes).toEqual([31_000])
    time.advance(30_000) // due at 61 000; the pacer says 5 s more
    expect(upstream.seen).toHaveLength(1)
    expect(prober.stats()[0]!.nextAt).toBe(66_000)
    time.advance(4_999)
    expect(upstream.seen).toHaveLength(1)
    time.advance(1)
    await probesDone(2)
    expect(pacer.takes).toEqual([31_000, 66_000])
    // The next one counts from when the last one started.
    expect(time.dueTimes()).toEqual([96_000])
  })

  it('charges one request of `tokens` and settles it with the status, whatever the answer', async () => {
    const pacer = new ScriptedPacer()
    const b = breakers.breaker('p~a')
    b.wants = true
    prober.setTargets([target(b, { pacer, tokens: 7 })])
    upstream.reply = (_q, res) => json(res, 503, { error: {} })
    await prober.probeNow('p~a')
    upstream.reply = (q) => q.socket.destroy()
    await prober.probeNow('p~a')
    expect(pacer.inflight).toBe(0)
    expect(pacer.settles).toEqual([
      { dispatchedAt: 1_000, status: 503, tokensCharged: 7, tokensUsed: null },
      { dispatchedAt: 1_000, status: 0, tokensCharged: 7, tokensUsed: null },
    ])
  })

  it('probes of a 1-request-per-minute key never exceed its budget, though the interval is 30 s', async () => {
    const pacer = new KeyPacer('p/a', 'p', 'a', null, { rpm: 1, tpm: null })
    const takes: number[] = []
    const recorded: ProbePacer = {
      wait: (now, tokens, waiting) => pacer.wait(now, tokens, waiting),
      take: (now, tokens) => {
        takes.push(now)
        pacer.take(now, tokens)
      },
      settled: (now, o) => pacer.settled(now, o),
    }
    const b = breakers.breaker('p~a')
    prober.setTargets([target(b, { pacer: recorded })])
    b.set(true)
    await run(600_000)
    // 0.97 × 1 RPM: one every 61.86 s.
    expect(takes.length).toBe(Math.floor((time.now() - 31_000) / (60_000 / 0.97)) + 1)
    for (let i = 1; i < takes.length; i++) expect(takes[i]! - takes[i - 1]!).toBeGreaterThanOrEqual(60_000 / 0.97 - 1)
    expect(upstream.seen).toHaveLength(takes.length)
    expect(pacer.inflight).toBe(0)
  })

  it('live traffic and probes together never exceed a 40-requests-per-minute key', async () => {
    const pacer = new KeyPacer('p/a', 'p', 'a', null, { rpm: 40, tpm: null })
    const probes: number[] = []
    const all: number[] = []
    const counted: ProbePacer = {
      wait: (now, tokens, waiting) => pacer.wait(now, tokens, waiting),
      take: (now, tokens) => {
        probes.push(now)
        all.push(now)
        pacer.take(now, tokens)
      },
      settled: (now, o) => pacer.settled(now, o),
    }
    const b = breakers.breaker('p~a')
    // A probe interval far below the pacer's spacing (1.55 s), so only the pacer keeps the budget.
    prober.setTargets([target(b, { pacer: counted, intervalMs: 500 })])
    b.set(true)
    // Live traffic as the scheduler sends it: demand every 0–3 s, each request waiting for its slot.
    let seed = 3
    const rand = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)
    let live = 0
    const liveRequest = (): void => {
      const now = time.now()
      const wait = pacer.wait(now, 1, false)
      if (wait > 0) {
        time.setTimeout(liveRequest, wait)
        return
      }
      pacer.take(now, 1)
      all.push(now)
      pacer.settled(now, { dispatchedAt: now, status: 200, tokensCharged: 1, tokensUsed: null })
      live++
      time.setTimeout(liveRequest, Math.floor(rand() * 3_000))
    }
    time.setTimeout(liveRequest, 0)
    await run(180_000)
    expect(live).toBeGreaterThan(40)
    expect(probes.length).toBeGreaterThan(20)
    all.sort((x, y) => x - y)
    // GCRA with burst 1 at 0.97 × 40: any 60 s holds at most 39 sends (38.8, plus the one at the edge).
    for (let i = 0; i < all.length; i++) {
      expect(all.filter((t) => t >= all[i]! && t < all[i]! + 60_000).length).toBeLessThanOrEqual(39)
    }
    for (let i = 1; i < all.length; i++) expect(all[i]! - all[i - 1]!).toBeGreaterThanOrEqual(60_000 / (0.97 * 40) - 20)
    expect(pacer.inflight).toBe(0)
  })

  it('the admin probe waits for the pacer too', async () => {
    const pacer = new ScriptedPacer([2_500, 0])
    const b = breakers.breaker('p~a')
    prober.setTargets([target(b, { pacer })])
    const pending = prober.probeNow('p~a')
    await settle()
    expect(upstream.seen).toHaveLength(0)
    time.advance(2_500)
    const r = await pending
    expect(r).toMatchObject({ ok: true, status: 200 })
    expect(pacer.takes).toEqual([3_500])
  })
})

describe('Prober: verdicts', () => {
  const cases: { name: string; reply: Reply; ok: boolean; status: number; failure: string | null; told: 'passed' | 'failed' | 'nothing' }[] = [
    { name: '200 with a JSON answer passes', reply: (_q, r) => json(r, 200, { choices: [] }), ok: true, status: 200, failure: null, told: 'passed' },
    { name: '200 with garbage is invalid', reply: (_q, r) => r.writeHead(200, { 'content-type': 'text/html' }).end('<html>oops'), ok: false, status: 200, failure: 'invalid', told: 'failed' },
    { name: '200 with an endless body is invalid', reply: (_q, r) => r.writeHead(200, { 'content-type': 'application/json' }).end(Buffer.alloc(200_000, 0x20)), ok: false, status: 200, failure: 'invalid', told: 'failed' },
    { name: '429 is pacing, neither pass nor fail', reply: (_q, r) => json(r, 429, { error: {} }), ok: false, status: 429, failure: null, told: 'nothing' },
    { name: '529 is overload, neither pass nor fail', reply: (_q, r) => json(r, 529, { error: {} }), ok: false, status: 529, failure: null, told: 'nothing' },
    { name: '401 is auth', reply: (_q, r) => json(r, 401, { error: {} }), ok: false, status: 401, failure: 'auth', told: 'failed' },
    { name: '403 is auth', reply: (_q, r) => json(r, 403, { error: {} }), ok: false, status: 403, failure: 'auth', told: 'failed' },
    { name: '500 is http_5xx', reply: (_q, r) => json(r, 500, { error: {} }), ok: false, status: 500, failure: 'http_5xx', told: 'failed' },
    { name: '503 is http_5xx', reply: (_q, r) => json(r, 503, { error: {} }), ok: false, status: 503, failure: 'http_5xx', told: 'failed' },
    { name: '404 (model gone) is a failed probe', reply: (_q, r) => json(r, 404, { error: {} }), ok: false, status: 404, failure: 'probe', told: 'failed' },
    { name: '400 is a failed probe', reply: (_q, r) => json(r, 400, { error: {} }), ok: false, status: 400, failure: 'probe', told: 'failed' },
    { name: 'a reset before the answer is reset', reply: (q) => q.socket.destroy(), ok: false, status: 0, failure: 'reset', told: 'failed' },
  ]
  for (const c of cases) {
    it(c.name, async () => {
      const b = breakers.breaker('p~a')
      b.wants = true
      prober.setTargets([target(b)])
      upstream.reply = c.reply
      const r = await prober.probeNow('p~a')
      expect(r).toEqual({ ok: c.ok, status: c.status, failure: c.failure, at: 1_000 })
      expect(b.passed).toEqual(c.told === 'passed' ? [1_000] : [])
      expect(b.failed).toEqual(c.told === 'failed' ? [[1_000, c.failure]] : [])
      const s = prober.stats()[0]!
      expect([s.passed, s.failed, s.inconclusive]).toEqual([c.told === 'passed' ? 1 : 0, c.told === 'failed' ? 1 : 0, c.told === 'nothing' ? 1 : 0])
    })
  }

  it('a refused connection is connect', async () => {
    const closed = createServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const origin = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`
    await new Promise<void>((resolve) => closed.close(() => resolve()))
    const dead = new Pool(origin)
    try {
      const b = breakers.breaker('p~a')
      b.wants = true
      prober.setTargets([target(b, { dispatcher: dead, origin })])
      expect(await prober.probeNow('p~a')).toMatchObject({ ok: false, status: 0, failure: 'connect' })
      expect(b.failed).toEqual([[1_000, 'connect']])
    } finally {
      await dead.destroy()
    }
  })

  it('a probe that outlives its timeout is aborted and counts as timeout', async () => {
    const pacer = new ScriptedPacer()
    const b = breakers.breaker('p~a')
    b.wants = true
    prober.setTargets([target(b, { pacer, timeoutMs: 10_000 })])
    upstream.reply = (_q, res) => upstream.held.push(res)
    const pending = prober.probeNow('p~a')
    await upstream.waitForRequests(1)
    time.advance(9_999)
    await settle()
    expect(prober.stats()[0]!.inFlight).toBe(true)
    time.advance(1)
    expect(await pending).toEqual({ ok: false, status: 0, failure: 'timeout', at: 11_000 })
    expect(b.failed).toEqual([[11_000, 'timeout']])
    expect(pacer.settles).toEqual([{ dispatchedAt: 1_000, status: 0, tokensCharged: chat.tokens, tokensUsed: null }])
    // The probe's own timer is gone; the next scheduled probe is one interval after this one started.
    expect(time.dueTimes()).toEqual([31_000])
  })

  it('a base-URL check (GET /health, no pacer) passes on any 2xx body and fails on 503', async () => {
    const b = breakers.breaker('p~a')
    b.wants = true
    prober.setTargets([target(b, { method: 'GET', path: '/health', body: null, headers: [], tokens: 0 })])
    upstream.reply = (_q, r) => r.writeHead(200).end('OK')
    expect(await prober.probeNow('p~a')).toMatchObject({ ok: true, status: 200 })
    expect(upstream.seen[0]).toMatchObject({ method: 'GET', path: '/health', body: '' })
    expect(upstream.seen[0]!.headers['content-type']).toBeUndefined()
    upstream.reply = (_q, r) => json(r, 503, { status: 'unhealthy' })
    expect(await prober.probeNow('p~a')).toMatchObject({ ok: false, status: 503, failure: 'http_5xx' })
  })

  it('reads every answer to the end, so the socket goes back to the pool', async () => {
    // One connection: a probe that left a body unread would hold it, and the next would hang.
    const single = new Pool(upstream.origin, { connections: 1 })
    try {
      const b = breakers.breaker('p~a')
      b.wants = true
      prober.setTargets([target(b, { dispatcher: single })])
      for (const status of [200, 500, 429, 401, 404, 200]) {
        upstream.reply = (_q, r) => json(r, status, { pad: 'x'.repeat(20_000) })
        expect(await prober.probeNow('p~a')).toMatchObject({ status })
      }
      expect(new Set(upstream.seen.map((r) => r.remotePort)).size).toBe(1)
      expect(upstream.openSockets).toBe(1)
    } finally {
      await single.destroy()
    }
  })

  it('a manual probe of a healthy key is not reported to its breaker', async () => {
    const b = breakers.breaker('p~a')
    prober.setTargets([target(b)])
    upstream.reply = (_q, r) => json(r, 500, {})
    expect(await prober.probeNow('p~a')).toMatchObject({ failure: 'http_5xx' })
    expect(b.failed).toEqual([])
    expect(time.pending).toBe(0)
  })

  it('a key that came back while its probe ran gets no verdict and no next probe', async () => {
    const b = breakers.breaker('p~a')
    prober.setTargets([target(b)])
    b.set(true)
    upstream.reply = (_q, res) => upstream.held.push(res)
    time.advance(30_000)
    await upstream.waitForRequests(1)
    b.set(false)
    json(upstream.held[0]!, 500, {})
    await probesDone(1)
    expect(b.failed).toEqual([])
    expect(time.pending).toBe(0)
  })

  it('results and stats never carry the credentials', async () => {
    const b = breakers.breaker('p~a')
    b.wants = true
    prober.setTargets([target(b)])
    upstream.reply = (_q, r) => json(r, 401, { error: { message: `bad key ${secret}` } })
    const r = await prober.probeNow('p~a')
    expect(JSON.stringify([r, prober.stats()])).not.toContain(secret)
  })
})

describe('Prober: one in flight', () => {
  it('a second manual probe joins the one in flight', async () => {
    const b = breakers.breaker('p~a')
    b.wants = true
    prober.setTargets([target(b)])
    upstream.reply = (_q, res) => upstream.held.push(res)
    const first = prober.probeNow('p~a')
    const second = prober.probeNow('p~a')
    await upstream.waitForRequests(1)
    json(upstream.held[0]!, 200, {})
    const [r1, r2] = await Promise.all([first, second])
    expect(r1).toBe(r2)
    expect(upstream.seen).toHaveLength(1)
  })

  it('a scheduled probe due while a manual one runs is skipped, and the next counts from the manual one', async () => {
    const b = breakers.breaker('p~a')
    prober.setTargets([target(b)])
    b.set(true)
    time.advance(29_000) // 30 000: one second before the scheduled probe
    upstream.reply = (_q, res) => upstream.held.push(res)
    const manual = prober.probeNow('p~a')
    await upstream.waitForRequests(1)
    expect(time.dueTimes()).toEqual([40_000]) // only the manual probe's timeout
    time.advance(5_000)
    json(upstream.held[0]!, 200, {})
    await manual
    expect(upstream.seen).toHaveLength(1)
    expect(time.dueTimes()).toEqual([60_000])
  })

  it('an unknown id gives null', async () => {
    expect(await prober.probeNow('nope')).toBeNull()
  })
})

describe('Prober: targets and close', () => {
  it('setTargets keeps the schedule and counters of ids that stay and drops the rest', async () => {
    const a = breakers.breaker('p~a')
    const b = breakers.breaker('p~b')
    const c = breakers.breaker('p~c')
    prober.setTargets([target(a), target(b)])
    a.set(true)
    await prober.probeNow('p~a')
    time.advance(10_000)
    b.set(true)
    expect(time.dueTimes()).toEqual([31_000, 41_000])
    c.wants = true
    time.advance(5_000) // a reload at 16 000
    prober.setTargets([target(a, { path: '/v2/chat' }), target(c)])
    expect(prober.stats().map((s) => [s.id, s.sent, s.nextAt])).toEqual([['p~a', 1, 31_000], ['p~c', 0, 46_000]])
    expect(time.dueTimes()).toEqual([31_000, 46_000])
    b.set(true) // a dropped key is no longer watched
    expect(time.pending).toBe(2)
    time.advance(15_000)
    await probesDone(2)
    expect(upstream.seen.map((r) => r.path)).toEqual(['/v1/chat/completions', '/v2/chat'])
  })

  it('a reload that changes the interval re-times the next probe from the same base', () => {
    const a = breakers.breaker('p~a')
    prober.setTargets([target(a)])
    a.set(true)
    expect(time.dueTimes()).toEqual([31_000])
    time.advance(5_000)
    prober.setTargets([target(a, { intervalMs: 10_000 })])
    expect(time.dueTimes()).toEqual([11_000])
    prober.setTargets([target(a, { intervalMs: 2_000 })]) // the base is in the past: due now
    expect(time.dueTimes()).toEqual([6_000])
  })

  it('a dropped key\'s probe in flight is aborted and not reported', async () => {
    const a = breakers.breaker('p~a')
    const pacer = new ScriptedPacer()
    a.wants = true
    prober.setTargets([target(a, { pacer })])
    upstream.reply = (_q, res) => upstream.held.push(res)
    const pending = prober.probeNow('p~a')
    await upstream.waitForRequests(1)
    prober.setTargets([])
    expect(await pending).toBeNull()
    expect(a.failed).toEqual([])
    expect(pacer.inflight).toBe(0)
    expect(time.pending).toBe(0)
  })

  it('close clears every timer, aborts probes in flight and ends waiting manual probes', async () => {
    const a = breakers.breaker('p~a')
    const b = breakers.breaker('p~b')
    const c = breakers.breaker('p~c')
    const waitingPacer = new ScriptedPacer([60_000])
    prober.setTargets([target(a), target(b), target(c, { pacer: waitingPacer })])
    a.set(true)
    b.wants = true
    upstream.reply = (_q, res) => upstream.held.push(res)
    const inFlight = prober.probeNow('p~b')
    const waiting = prober.probeNow('p~c')
    await upstream.waitForRequests(1)
    expect(time.pending).toBe(3) // a's schedule, b's timeout, c's wait for the pacer
    expect(breakers.listeners).toBe(1)
    prober.close()
    expect(time.pending).toBe(0)
    expect(breakers.listeners).toBe(0)
    expect(await inFlight).toBeNull()
    expect(await waiting).toBeNull()
    expect(b.failed).toEqual([])
    a.set(false)
    a.set(true)
    expect(time.pending).toBe(0)
    prober.setTargets([target(a)])
    expect(time.pending).toBe(0)
    expect(await prober.probeNow('p~a')).toBeNull()
    expect(upstream.seen).toHaveLength(1)
  })
})

describe('Prober with the real breakers', () => {
  it('opens on failures, passes success_threshold probes, closes and stops probing', async () => {
    const registry = new BreakerRegistry(() => 0.5)
    prober.close()
    prober = make(() => 0, registry)
    const breaker = registry.obtain('p', 'a', { ...defaultBreakerSettings, probes: true, successThreshold: 2 })
    prober.setTargets([target(breaker)])
    expect(time.pending).toBe(0)
    for (let i = 0; i < defaultBreakerSettings.failureThreshold; i++) breaker.failed(time.now(), 'http_5xx', false)
    expect(breaker.state(time.now())).toBe('open')
    expect(time.dueTimes()).toEqual([31_000])
    upstream.reply = (_q, r) => json(r, 500, {})
    time.advance(30_000)
    await probesDone(1)
    expect(breaker.lastFailureKind).toBe('http_5xx')
    upstream.reply = (_q, r) => json(r, 200, { choices: [] })
    time.advance(30_000)
    await probesDone(2)
    expect(breaker.successes).toBe(1)
    expect(breaker.wantsProbe(time.now())).toBe(true)
    time.advance(30_000)
    await probesDone(3)
    expect(breaker.state(time.now())).toBe('closed')
    expect(time.pending).toBe(0)
    time.advance(300_000)
    expect(upstream.seen).toHaveLength(3)
  })

  it('probes a key disabled by a 401 until probes pass', async () => {
    const registry = new BreakerRegistry(() => 0.5)
    prober.close()
    prober = make(() => 0, registry)
    const breaker = registry.obtain('p', 'a', { ...defaultBreakerSettings, probes: true, successThreshold: 1 })
    prober.setTargets([target(breaker)])
    breaker.disable(time.now(), 'auth')
    upstream.reply = (_q, r) => json(r, 401, {})
    time.advance(30_000)
    await probesDone(1)
    expect(breaker.state(time.now())).toBe('disabled')
    expect(time.dueTimes()).toEqual([61_000])
    upstream.reply = (_q, r) => json(r, 200, { choices: [] })
    time.advance(30_000)
    await probesDone(2)
    expect(breaker.state(time.now())).toBe('closed')
    expect(time.pending).toBe(0)
  })
})

describe('Prober on an instance that does not lead probes (state: redis)', () => {
  it('a key out here and closed in the shared breaker, never seen out there, is probed here: no leader verdict will come for it', async () => {
    const backing = new MemoryBacking(() => time.now())
    const other = createMemoryState({ backing, instanceId: 'other' })
    expect(await other.leaders.campaign('probe:p', 'other', 15_000)).toMatchObject({ leader: true })
    // The adapter's kind is what makes a prober follow a leader; the memory adapter keeps the test in process.
    const mine = { ...createMemoryState({ backing, instanceId: 'mine' }), kind: 'redis' as const }
    prober.close()
    prober = new Prober({ clock: time, breakers, rand: () => 0, timers: time, shared: mine, onResult: (_t, r) => results.push(r) })
    const b = breakers.breaker('p~a')
    prober.setTargets([target(b)])
    await settle()
    expect(prober.leadership()).toEqual({ p: { leader: false, epoch: expect.any(Number) } })
    b.set(true)
    time.advance(30_000)
    await settle()
    expect(prober.stats()[0]?.sent).toBe(1)
    await upstream.waitForRequests(1)
    await settle()
    expect(b.passed).toHaveLength(1)
  })
})

describe('Prober: a key back in service', () => {
  it('says so once when a key that wanted probes no longer does, and not for a key that never went out', () => {
    const back: string[] = []
    prober.close()
    prober = new Prober({ clock: time, breakers, rand: () => 0, timers: time, onBack: (t) => back.push(t.id) })
    const out = breakers.breaker('p~out')
    const fine = breakers.breaker('p~fine')
    prober.setTargets([target(out), target(fine)])
    fine.set(false)
    out.set(true)
    expect(back).toEqual([])
    out.set(false)
    out.set(false)
    expect(back).toEqual(['p~out'])
  })
})
