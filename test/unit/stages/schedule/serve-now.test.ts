import { describe, expect, it } from 'vitest'
import type { Deployment, QueueSettings } from '../../../../src/config/runtime.js'
import type { RequestContext } from '../../../../src/context.js'
import { createStrategy, PeakEwma } from '../../../../src/core/balance/index.js'
import { KeyBreaker } from '../../../../src/core/breaker/index.js'
import { defaultBreakerSettings } from '../../../../src/core/breaker/types.js'
import { ConcurrencyLimit } from '../../../../src/core/limit/concurrency-limit.js'
import { KeyPacer } from '../../../../src/core/pacer/key-pacer.js'
import type { Priority } from '../../../../src/core/queue/index.js'
import type { SluiceError } from '../../../../src/errors.js'
import { scheduleMetrics } from '../../../../src/stages/schedule/metrics.js'
import { Pool } from '../../../../src/stages/schedule/pool.js'
import { Waiter } from '../../../../src/stages/schedule/waiter.js'
import { Wakeups } from '../../../../src/stages/schedule/wakeups.js'
import { FakeTime } from '../../../support/fake-time.js'

// A request that a key can take now is never queued, and a request that waits for something of
// its own (a key it already tried, deployments the others do not share) holds nobody up:
// the queue, and its max_size and per_consumer bounds, are for requests that have to wait.
// Two keys of one permit each; the pool is driven the way the scheduler drives it (a released
// permit pokes the key's wake-ups).

const queue = (over: Partial<QueueSettings> = {}): QueueSettings => ({
  maxSize: 1000,
  perConsumer: 50,
  whenFull: 'reject',
  maxWaitMs: [60_000, 60_000, 60_000, 60_000],
  keepaliveMs: 0,
  ...over,
})

function key(id: string, permits = 1): Deployment {
  return {
    id,
    pacer: new KeyPacer(`p/${id}`, 'p', id, null, { rpm: null, tpm: null }),
    limit: new ConcurrencyLimit({ id: `p~${id}`, provider: 'p', key: id, fixed: permits }),
    breaker: new KeyBreaker(`p~${id}`, 'p', id, defaultBreakerSettings, () => 0.5),
    ttft: new PeakEwma(),
    weight: 1,
    group: null,
  } as unknown as Deployment
}

function rig() {
  const time = new FakeTime()
  const wakeups = new Wakeups(time, time)
  const pool = new Pool({
    model: 'm',
    clock: time,
    timers: time,
    wakeups,
    metrics: scheduleMetrics(null),
    attemptPorts: { clock: time, epoch: time, onRefusal: () => {} },
    rand: () => 0,
  })
  const a = key('a')
  const b = key('b')
  const both = [a, b]
  let n = 0
  /** A request with these candidates; `tried` keys failed it already (a retry goes elsewhere). */
  const request = (opts: { candidates?: readonly Deployment[]; consumer?: string; priority?: Priority; tried?: Deployment[] } = {}) => {
    const ctx = { id: `r${++n}`, clientGone: false, onClientGone: () => {}, queuedMs: 0, attempts: [], servingRoute: null, stream: false } as unknown as RequestContext
    const w = new Waiter({
      ctx,
      priority: opts.priority ?? 2,
      consumer: opts.consumer ?? 'c',
      weight: 1,
      tokens: 10,
      cost: 10,
      candidates: opts.candidates ?? both,
      strategy: createStrategy('round-robin'),
      affinity: null,
      panicMode: false,
      deadline: time.now() + 60_000,
      keepaliveMs: 0,
    })
    for (const d of opts.tried ?? []) w.exclude(d)
    return w
  }
  const outcome = new Map<Waiter, string>()
  /** Enters the pool the way the schedule stage does: now if it can, else queued. */
  const arrive = (w: Waiter, settings = queue()): void => {
    if (pool.tryNow(w)) {
      outcome.set(w, `sent:${w.granted?.deployment?.id}`)
      return
    }
    let parked: Promise<void>
    try {
      parked = pool.admit(w, settings)
    } catch (err) {
      outcome.set(w, (err as SluiceError).code)
      return
    }
    outcome.set(w, 'waiting')
    parked.then(
      () => outcome.set(w, `sent:${w.granted?.deployment?.id}`),
      (err: SluiceError) => outcome.set(w, err.code),
    )
  }
  /** A 5xx on its key sent `w` back to the queue, to try another key. */
  const retry = (w: Waiter): void => {
    w.exclude(w.granted?.deployment as Deployment)
    release(w)
    outcome.set(w, 'waiting')
    pool.requeue(w).then(
      () => outcome.set(w, `sent:${w.granted?.deployment?.id}`),
      (err: SluiceError) => outcome.set(w, err.code),
    )
  }
  /** `w`'s attempt ended: its permit is free again, and whatever waits on its key may look. */
  const release = (w: Waiter): void => {
    const d = w.granted?.deployment as Deployment
    w.granted?.permit.release('ignore', time.now())
    d.breaker.released(time.now(), w.granted?.trial ?? false)
    wakeups.poke(d.limit)
  }
  const settle = () => new Promise<void>((resolve) => setImmediate(resolve))
  return { time, pool, a, b, request, arrive, retry, release, outcome, settle }
}

describe('schedule: a request that can be served now is never queued', () => {
  it('a newcomer takes a free key while the only waiter waits for the other key, which it alone needs (it tried the free one)', async () => {
    const { pool, a, b, request, arrive, retry, outcome, settle } = rig()
    const first = request({ consumer: 'c' })
    arrive(first)
    expect(outcome.get(first)).toBe('sent:a')
    const busy = request({ consumer: 'other' })
    arrive(busy)
    expect(outcome.get(busy)).toBe('sent:b')
    // a fails `first`: it comes back for b, which is busy; a is free again.
    retry(first)
    expect(pool.waiting).toBe(1)
    expect(a.limit.inflight).toBe(0)

    // per_consumer 1: `first` fills c's share of the queue, but the newcomer need not wait at all.
    const newcomer = request({ consumer: 'c' })
    arrive(newcomer, queue({ perConsumer: 1 }))
    await settle()
    expect(outcome.get(newcomer)).toBe('sent:a')
    expect(outcome.get(first)).toBe('waiting')
    expect(b.limit.inflight).toBe(1)
  })

  it('max_size: a newcomer is not refused queue_full while a key it can use is free and no waiter can use it', async () => {
    const { pool, a, b, request, arrive, outcome, settle } = rig()
    const holdsB = request({ candidates: [b] })
    arrive(holdsB)
    expect(outcome.get(holdsB)).toBe('sent:b')
    // A request that only b can serve (another split group's deployments) waits for it.
    const onlyB = request({ candidates: [b], consumer: 'other' })
    arrive(onlyB, queue({ maxSize: 1 }))
    expect(outcome.get(onlyB)).toBe('waiting')

    const newcomer = request({ consumer: 'c' })
    arrive(newcomer, queue({ maxSize: 1 }))
    await settle()
    expect(outcome.get(newcomer)).toBe('sent:a')
    expect(pool.waiting).toBe(1)
    expect(a.limit.inflight).toBe(1)
  })

  it('a waiter behind a retry that waits for the one key it has not tried goes as soon as a key it can use frees up', async () => {
    const { pool, request, arrive, retry, release, outcome, settle } = rig()
    const first = request({ consumer: 'c1' })
    const second = request({ consumer: 'c2' })
    const third = request({ consumer: 'c3' })
    arrive(first)
    arrive(second)
    arrive(third)
    expect([outcome.get(first), outcome.get(second), outcome.get(third)]).toEqual(['sent:a', 'sent:b', 'waiting'])
    // a fails `first`: third takes a, and first's retry goes to the head of the queue for b.
    retry(first)
    await settle()
    expect([outcome.get(first), outcome.get(third)]).toEqual(['waiting', 'sent:a'])
    const behind = request({ consumer: 'c4' })
    arrive(behind)
    expect(pool.waiting).toBe(2)

    release(third) // a is free: `first` cannot use it, `behind` can
    await settle()
    expect(outcome.get(behind)).toBe('sent:a')
    expect(outcome.get(first)).toBe('waiting')
    release(second)
    await settle()
    expect(outcome.get(first)).toBe('sent:b')
    expect(pool.waiting).toBe(0)
  })

  it('a head set aside for a key of its own is served first when that key frees up, ahead of later waiters', async () => {
    const { pool, a, b, request, arrive, release, outcome, settle } = rig()
    const holdsA = request({ consumer: 'x' })
    const holdsB = request({ consumer: 'y' })
    arrive(holdsA)
    arrive(holdsB)
    const onlyB = request({ candidates: [b], consumer: 'c1' })
    arrive(onlyB)
    const plain1 = request({ consumer: 'c2' })
    const plain2 = request({ consumer: 'c3' })
    arrive(plain1)
    arrive(plain2)
    expect(pool.waiting).toBe(3)

    release(holdsA)
    await settle()
    expect(outcome.get(plain1)).toBe('sent:a')
    expect([outcome.get(onlyB), outcome.get(plain2)]).toEqual(['waiting', 'waiting'])
    release(holdsB)
    await settle()
    // b frees: onlyB was ahead of plain2 all along, and gets it.
    expect(outcome.get(onlyB)).toBe('sent:b')
    expect(outcome.get(plain2)).toBe('waiting')
    expect(a.limit.inflight + b.limit.inflight).toBe(2)
  })

  it('a newcomer never takes a key that a waiter ahead of it can use: the waiter goes first', async () => {
    const { pool, a, request, arrive, outcome, settle } = rig()
    const holdsA = request({ consumer: 'x' })
    const holdsB = request({ consumer: 'y' })
    arrive(holdsA)
    arrive(holdsB)
    const waiter = request({ consumer: 'c1' })
    arrive(waiter)
    expect(outcome.get(waiter)).toBe('waiting')
    // a's permit ends, but the wake-up has not reached the pool yet (its poke comes later).
    holdsA.granted?.permit.release('ignore', 0)
    expect(a.limit.inflight).toBe(0)

    const newcomer = request({ consumer: 'c2' })
    arrive(newcomer, queue({ perConsumer: 1 }))
    await settle()
    expect(outcome.get(waiter)).toBe('sent:a')
    expect(outcome.get(newcomer)).toBe('waiting')
    expect(pool.waiting).toBe(1)
  })

  it('a consumer\'s requests set aside count toward per_consumer and max_size, and leave no count behind', async () => {
    const { pool, time, b, request, arrive, outcome, settle } = rig()
    arrive(request({ consumer: 'x' }))
    arrive(request({ consumer: 'y' }))
    const onlyB = request({ candidates: [b], consumer: 'c', priority: 1 })
    arrive(onlyB)
    const plain = request({ consumer: 'z' })
    arrive(plain)
    await settle()
    expect([pool.waiting, pool.waitingAt(1), pool.waitingAt(2)]).toEqual([2, 1, 1])
    const second = request({ consumer: 'c' })
    arrive(second, queue({ perConsumer: 1 }))
    expect(outcome.get(second)).toBe('queue_full')
    const third = request({ consumer: 'w' })
    arrive(third, queue({ maxSize: 2 }))
    expect(outcome.get(third)).toBe('queue_full')

    time.advance(60_000) // both run out of wait
    await settle()
    expect([outcome.get(onlyB), outcome.get(plain)]).toEqual(['queue_timeout', 'queue_timeout'])
    expect([pool.waiting, pool.waitingAt(1), pool.waitingAt(2), pool.queue.countFor('c')]).toEqual([0, 0, 0, 0])
    const again = request({ consumer: 'c' })
    arrive(again, queue({ perConsumer: 1 }))
    expect(outcome.get(again)).toBe('waiting')
  })

  it('the per-request path stays flat: an arrival or a freed key looks at a few waiters, not at a queue of 200', async () => {
    const { a, b, request, arrive, release, outcome, settle } = rig()
    const holders = [request({ consumer: 'x' }), request({ consumer: 'y' })]
    for (const w of holders) arrive(w)
    const waiters = Array.from({ length: 200 }, (_, i) => request({ consumer: `c${i % 7}` }))
    for (const w of waiters) arrive(w)
    await settle()
    let looks = 0
    for (const d of [a, b]) {
      const wait = d.limit.wait.bind(d.limit)
      d.limit.wait = (now: number) => {
        looks++
        return wait(now)
      }
    }
    arrive(request({ consumer: 'late' }))
    expect(looks).toBeLessThanOrEqual(8)
    looks = 0
    release(holders[0] as Waiter)
    await settle()
    expect(waiters.filter((w) => outcome.get(w)?.startsWith('sent')).length).toBe(1)
    expect(looks).toBeLessThanOrEqual(8)
  })

  it('passthrough: a request in the bypass lane that waits for a key of its own holds up neither lane', async () => {
    const { pool, b, request, arrive, release, outcome, settle } = rig()
    const full = queue({ maxSize: 1, whenFull: 'passthrough' })
    const holders = [request({ consumer: 'x' }), request({ consumer: 'y' })]
    for (const w of holders) arrive(w, full)
    const queued = request({ consumer: 'c1' })
    arrive(queued, full)
    const bypassOnlyB = request({ candidates: [b], consumer: 'c2' })
    const bypassPlain = request({ consumer: 'c3' })
    arrive(bypassOnlyB, full)
    arrive(bypassPlain, full)
    expect(pool.waiting).toBe(3)

    release(holders[0] as Waiter) // a frees: the bypass lane is served first, past the one that needs b
    await settle()
    expect([outcome.get(bypassOnlyB), outcome.get(bypassPlain), outcome.get(queued)]).toEqual(['waiting', 'sent:a', 'waiting'])
    release(holders[1] as Waiter) // b frees: the bypass request that waited for it was ahead of the queue
    await settle()
    expect([outcome.get(bypassOnlyB), outcome.get(queued)]).toEqual(['sent:b', 'waiting'])
    expect(pool.waiting).toBe(1)
  })

  it('while every key is busy, every arrival waits its turn and a full queue still refuses', () => {
    const { pool, request, arrive, outcome } = rig()
    arrive(request({ consumer: 'x' }))
    arrive(request({ consumer: 'y' }))
    const waiting = [request({ consumer: 'c' }), request({ consumer: 'c' })]
    for (const w of waiting) arrive(w, queue({ perConsumer: 2 }))
    const third = request({ consumer: 'c' })
    arrive(third, queue({ perConsumer: 2 }))
    expect(waiting.map((w) => outcome.get(w))).toEqual(['waiting', 'waiting'])
    expect(outcome.get(third)).toBe('queue_full')
    expect(pool.waiting).toBe(2)
  })
})
