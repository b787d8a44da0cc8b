import fc from 'fast-check'
import type { IncomingMessage } from 'node:http'
import { describe, expect, it } from 'vitest'
import type { SluiceConfigInput } from '../../../src/config/schema.js'
import type { ScriptedFault } from '../../../src/simulator/index.js'
import {
  Arrivals, concurrency429Body, concurrencyStatus, openCall, PermitMonitor, sseErrorCode, type Call, type CallOptions, type LimitStatus, type OpenCall,
} from '../../support/concurrency.js'
import { startStack, type Stack } from '../../support/harness.js'

// A permit ends exactly once, whatever way its request ends. Random sequences of requests —
// answered, refused upstream, cut, timed out, left by their client at every stage, or refused
// before dispatch — run against three keys (fixed at 1, fixed at 4, adaptive). While they run,
// no key ever holds more permits than its fixed limit or than it has requests open, and a
// request never reaches the upstream without its key holding a permit; once every client has
// its answer and the upstream has nothing in flight, every key holds 0 permits again, and the
// key limited to 1 serves the next request at once.

const lanes = { one: 1, four: 4, auto: null } as const
type Lane = keyof typeof lanes
const laneNames = Object.keys(lanes) as Lane[]
const keyValue = (lane: Lane): string => `sk-conc-${lane}-secret`
const limitIdOf = (lane: Lane): string => `p-${lane}~k-${lane}`
const maxActions = 8
/** first_byte and idle timeouts of every provider; the stalls below last longer. */
const timeoutMs = 250

const kinds = [
  'ok',
  'http_400',
  'http_5xx',
  'concurrent_429',
  'reset_before_headers',
  'reset_mid_stream',
  'first_byte_timeout',
  'idle_timeout',
  'abort_streaming',
  'abort_waiting',
  'abort_queued',
  'invalid_body',
] as const

interface Action {
  readonly kind: (typeof kinds)[number]
  readonly lane: Lane
  readonly stream: boolean
  /** Starts only once every action before it has ended; otherwise together with them. */
  readonly after: boolean
  readonly status5xx: 500 | 503
}

const actionArb: fc.Arbitrary<Action> = fc.record({
  kind: fc.constantFrom(...kinds),
  lane: fc.constantFrom(...laneNames),
  stream: fc.boolean(),
  after: fc.boolean(),
  status5xx: fc.constantFrom(500 as const, 503 as const),
})

function gatewayConfig(simUrl: string): SluiceConfigInput {
  const providers: SluiceConfigInput['providers'] = {}
  const models: NonNullable<SluiceConfigInput['models']> = {}
  for (const lane of laneNames) {
    providers[`p-${lane}`] = {
      type: 'openai',
      base_url: `${simUrl}/v1`,
      timeouts: { first_byte: timeoutMs, idle: timeoutMs },
      keys: [{ id: `k-${lane}`, key: keyValue(lane), max_concurrent: lanes[lane] }],
    }
    // One route per action slot, each with its own upstream model, so a scripted fault is
    // taken by exactly the request it was written for however the requests interleave.
    for (const slot of [...Array.from({ length: maxActions }, (_, i) => String(i)), 'probe']) {
      models[`${lane}-${slot}`] = { targets: [{ provider: `p-${lane}`, model: `up-${lane}-${slot}` }] }
    }
  }
  return { providers, models }
}

/** One run of the property, on its own stack: a failure cannot leak into the next run, so fast-check's shrinking stays sound. */
class Trial {
  readonly monitor: PermitMonitor
  readonly simArrivals: Arrivals
  readonly gwArrivals: Arrivals
  readonly calls: { readonly controller: AbortController; readonly call: OpenCall }[] = []
  /** What each request's access-log line must say. */
  readonly expected = new Map<string, Record<string, unknown>>()
  /** Requests sent per lane, and access-log lines per lane (read incrementally). */
  readonly #sent: Record<Lane, number> = { one: 0, four: 0, auto: 0 }
  readonly #logged: Record<Lane, number> = { one: 0, four: 0, auto: 0 }
  #linesRead = 0

  constructor(readonly stack: Stack) {
    this.simArrivals = new Arrivals(stack.sim.port)
    this.gwArrivals = new Arrivals(stack.gw.port)
    const laneOfKey = new Map(laneNames.map((lane) => [`Bearer ${keyValue(lane)}`, lane]))
    this.monitor = new PermitMonitor(stack.gw, {
      // A key never holds more permits than the gateway has unfinished requests for it: the
      // access-log line is written after the permit is released.
      bound: (id) => {
        const lane = laneNames.find((l) => limitIdOf(l) === id)
        return lane === undefined ? 0 : this.#sent[lane] - this.#loggedOn(lane)
      },
      upstream: {
        port: stack.sim.port,
        keyOf: (req: IncomingMessage) => {
          const lane = laneOfKey.get(String(req.headers.authorization ?? ''))
          return lane === undefined ? undefined : limitIdOf(lane)
        },
      },
    })
    stack.logs.on('lines', () => this.monitor.check('access log'))
  }

  static async open(): Promise<Trial> {
    return new Trial(
      await startStack({
        sim: {
          keys: {
            [keyValue('one')]: { id: 'one' },
            [keyValue('four')]: { id: 'four' },
            // The adaptive key's upstream caps concurrency at 2: its real concurrency 429s teach it.
            [keyValue('auto')]: { id: 'auto', max_concurrent: 2 },
          },
        },
        gateway: gatewayConfig,
      }),
    )
  }

  start(lane: Lane | null, o: Omit<CallOptions, 'signal'>): { controller: AbortController; call: OpenCall } {
    if (lane !== null) this.#sent[lane]++
    const controller = new AbortController()
    const call = openCall(this.stack.gw.url, { ...o, signal: controller.signal })
    const entry = { controller, call }
    this.calls.push(entry)
    return entry
  }

  /** /status while requests are open: no key above its fixed limit, and `holding` keys hold at least one permit. */
  async checkStatus(holding: Lane[]): Promise<void> {
    this.monitor.check('status')
    const status = await concurrencyStatus(this.stack.gw.url)
    for (const lane of laneNames) {
      const limit = status.concurrency.find((l) => l.id === limitIdOf(lane))
      expect(limit, lane).toBeDefined()
      const fixed = lanes[lane]
      if (fixed !== null) expect(limit?.in_flight, `${lane} permits`).toBeLessThanOrEqual(fixed)
      expect(limit?.in_flight, `${lane} permits`).toBeGreaterThanOrEqual(holding.includes(lane) ? 1 : 0)
    }
  }

  async close(): Promise<void> {
    // After a failure: leave nothing open.
    for (const c of this.calls) c.controller.abort()
    await Promise.allSettled(this.calls.map((c) => c.call.result))
    this.monitor.close()
    this.simArrivals.close()
    this.gwArrivals.close()
    await this.stack.close()
  }

  #loggedOn(lane: Lane): number {
    const lines = this.stack.logs.lines
    for (; this.#linesRead < lines.length; this.#linesRead++) {
      const record = JSON.parse(lines[this.#linesRead] as string) as { msg?: string; route?: string | null }
      const routeLane = record.msg === 'request' && typeof record.route === 'string' ? record.route.split('-')[0] : undefined
      if (routeLane !== undefined && routeLane in this.#logged) this.#logged[routeLane as Lane]++
    }
    return this.#logged[lane]
  }
}

async function act(t: Trial, a: Action, i: number): Promise<void> {
  const { stack } = t
  const lane: Lane = a.kind === 'abort_queued' ? 'one' : a.lane
  const model = `${lane}-${i}`
  const up = `up-${model}`
  const id = `a${i}-${a.kind}`
  const script = (step: ScriptedFault): void => stack.sim.script([{ ...step, match: { model: up } }])
  const expectLog = (logId: string, fields: Record<string, unknown>): void => void t.expected.set(logId, fields)
  const plain = async (stream: boolean): Promise<Call> => t.start(lane, { id, model, stream }).call.result

  switch (a.kind) {
    case 'ok': {
      const r = await plain(a.stream)
      expect(r.status, id).toBe(200)
      if (a.stream) expect(r.text.trimEnd().endsWith('data: [DONE]'), id).toBe(true)
      else expect(JSON.parse(r.text), id).toMatchObject({ object: 'chat.completion' })
      return expectLog(id, { status: 200, outcome: 'success' })
    }
    case 'http_400': {
      script({ kind: 'error', status: 400 })
      const r = await plain(a.stream)
      expect(r.status, id).toBe(400)
      return expectLog(id, { status: 400, outcome: 'upstream_error', upstreamStatus: 400, attempts: 1 })
    }
    case 'http_5xx': {
      script({ kind: 'error', status: a.status5xx })
      const r = await plain(a.stream)
      expect([r.status, r.code], id).toEqual([502, 'upstream_error'])
      return expectLog(id, { status: 502, outcome: 'upstream_error', upstreamStatus: a.status5xx, attempts: 1 })
    }
    case 'concurrent_429': {
      // Worded as the simulator's own key cap words it: typed `concurrent`, held, sent again.
      script({ kind: 'error', status: 429, body: concurrency429Body(up, 1), headers: { 'retry-after': '1' } })
      const r = await plain(a.stream)
      expect(r.status, `${id}: ${r.text}`).toBe(200)
      return expectLog(id, { status: 200, outcome: 'success' })
    }
    case 'reset_before_headers': {
      script({ kind: 'reset_before_headers' })
      const r = await plain(a.stream)
      expect([r.status, r.code], id).toEqual([502, 'upstream_error'])
      return expectLog(id, { status: 502, outcome: 'upstream_error', attempts: 1 })
    }
    case 'reset_mid_stream': {
      script({ kind: 'reset_mid_stream', after_chunks: 2 })
      const r = await plain(true)
      expect(r.status, id).toBe(200)
      expect(sseErrorCode(r.text), `${id}: ${r.text}`).toBe('upstream_error')
      return expectLog(id, { status: 502, outcome: 'upstream_error', attempts: 1 })
    }
    case 'first_byte_timeout': {
      script({ kind: 'stall_before_headers', ms: timeoutMs * 4 })
      const r = await plain(a.stream)
      expect([r.status, r.code], id).toEqual([504, 'upstream_timeout'])
      return expectLog(id, { status: 504, outcome: 'timeout', attempts: 1 })
    }
    case 'idle_timeout': {
      script({ kind: 'stall_mid_stream', after_chunks: 1, ms: timeoutMs * 4 })
      const r = await plain(true)
      expect(r.status, id).toBe(200)
      expect(sseErrorCode(r.text), `${id}: ${r.text}`).toBe('upstream_timeout')
      return expectLog(id, { status: 504, outcome: 'timeout', attempts: 1 })
    }
    case 'abort_streaming': {
      script({ kind: 'slow_chunks', interval_ms: 40, chunks: 200 })
      const { controller, call } = t.start(lane, { id, model, stream: true })
      await call.firstChunk
      await t.checkStatus([lane]) // the permit is held while the stream is open
      controller.abort()
      expect((await call.result).aborted, id).toBe(true)
      return expectLog(id, { status: 499, outcome: 'client_abort', attempts: 1 })
    }
    case 'abort_waiting': {
      script({ kind: 'stall_before_headers', ms: 5_000 })
      const { controller, call } = t.start(lane, { id, model, stream: false })
      await t.simArrivals.arrived(id)
      await t.checkStatus([lane])
      controller.abort()
      expect((await call.result).aborted, id).toBe(true)
      return expectLog(id, { status: 499, outcome: 'client_abort', attempts: 1 })
    }
    case 'abort_queued': {
      // A holder streams on the key limited to 1; the victim waits behind it and is abandoned.
      const holderId = `${id}-holder`
      script({ kind: 'slow_chunks', interval_ms: 40, chunks: 200 })
      const holder = t.start('one', { id: holderId, model, stream: true })
      await holder.call.firstChunk
      const victim = t.start('one', { id, model, stream: a.stream })
      await t.gwArrivals.arrived(id)
      await t.checkStatus(['one'])
      const queued = await concurrencyStatus(stack.gw.url)
      expect(queued.queues[model]?.waiting, `${id} waits`).toBe(1)
      victim.controller.abort()
      expect((await victim.call.result).aborted, id).toBe(true)
      // The gateway has dropped it from the queue before the permit frees.
      await stack.logs.waitForAccessLog((all) => all.some((r) => r.requestId === id))
      holder.controller.abort()
      await holder.call.result
      expectLog(id, { status: 499, outcome: 'client_abort', attempts: 0, provider: null })
      return expectLog(holderId, { status: 499, outcome: 'client_abort', attempts: 1 })
    }
    case 'invalid_body': {
      const r = await t.start(null, { id, model, body: JSON.stringify({ model, messages: 'not a list' }) }).call.result
      expect([r.status, r.code], id).toEqual([400, 'invalid_request_error'])
      return expectLog(id, { status: 400, outcome: 'rejected', attempts: 0, provider: null })
    }
  }
}

/** Runs one sequence and checks the permits; returns the adaptive key's /status entry. */
async function runSequence(t: Trial, actions: readonly Action[]): Promise<LimitStatus> {
  const { stack, monitor } = t
  const pending: Promise<void>[] = []
  for (const [i, a] of actions.entries()) {
    if (a.after) await Promise.allSettled(pending)
    pending.push(act(t, a, i))
  }
  const outcomes = await Promise.allSettled(pending)
  const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected')
  if (failed !== undefined) throw failed.reason

  // Every client has its answer. Wait (on events) for the gateway's line for each request and
  // for the simulator to have finished everything it started.
  const results = await Promise.all(t.calls.map((c) => c.call.result))
  const ids = results.map((r) => r.id)
  const records = await stack.logs.waitForAccessLog((all) => ids.every((id) => all.some((r) => r.requestId === id)))
  await stack.sim.waitForRequests(t.simArrivals.started)
  expect(stack.sim.stats().totals.in_flight).toBe(0)
  for (const [id, fields] of t.expected) {
    const lines = records.filter((r) => r.requestId === id)
    expect(lines, `one access-log line for ${id}`).toHaveLength(1)
    expect(lines[0], id).toMatchObject(fields)
  }

  const status = await concurrencyStatus(stack.gw.url)
  const permits = Object.fromEntries(status.concurrency.map((l) => [l.id, l.in_flight]))
  expect(permits, 'permits held once everything ended').toEqual(Object.fromEntries(laneNames.map((lane) => [limitIdOf(lane), 0])))
  for (const [model, queue] of Object.entries(status.queues)) expect(queue.waiting, `${model} waiting`).toBe(0)
  expect(status.requests.in_flight).toBe(0)
  expect(monitor.violations.join('\n'), 'permit violations').toBe('')

  // Nothing is left holding a permit: each key, the one limited to 1 included, serves the next
  // request at once (a leaked permit would queue it until its 2 s max wait).
  const probeIds = laneNames.map((lane) => `probe-${lane}`)
  const probes = laneNames.map((lane) => t.start(lane, { id: `probe-${lane}`, model: `${lane}-probe`, maxWait: '2' }).call.result)
  for (const r of await Promise.all(probes)) expect(r.status, r.id).toBe(200)
  const probeLogs = await stack.logs.waitForAccessLog((all) => probeIds.every((id) => all.some((r) => r.requestId === id)))
  for (const id of probeIds) expect(probeLogs.find((r) => r.requestId === id), id).toMatchObject({ status: 200, queuedMs: 0, attempts: 1 })
  expect(monitor.violations.join('\n'), 'permit violations').toBe('')
  return status.concurrency.find((l) => l.id === limitIdOf('auto')) as LimitStatus
}

describe('concurrency: permits end exactly once on every exit path', () => {
  it('random sequences of exit paths: permits bounded while open, back to 0 after, a limit-1 key free at once', async () => {
    const exercised = new Set<Action['kind']>()
    let samples = 0
    let autoLearned = 0
    const property = fc.asyncProperty(fc.array(actionArb, { minLength: 1, maxLength: maxActions }), async (actions) => {
      for (const a of actions) exercised.add(a.kind)
      const t = await Trial.open()
      try {
        const auto = await runSequence(t, actions)
        if (auto.concurrent_429_count > 0) autoLearned++
      } finally {
        samples += t.monitor.samples
        await t.close()
      }
    })
    await fc.assert(property, { numRuns: 20, seed: 20_251_122 })

    // The sequences exercised what they were meant to: every exit path, the adaptive key's
    // concurrency 429s, and permits checked at many events.
    expect([...exercised].sort()).toEqual([...kinds].sort())
    expect(autoLearned).toBeGreaterThan(0)
    expect(samples).toBeGreaterThan(1000)
  }, 60_000)
})
