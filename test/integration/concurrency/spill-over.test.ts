import OpenAI from 'openai'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startStack, type Stack } from '../../support/harness.js'
import { Arrivals, concurrencyStatus, openCall, type OpenCall } from '../../support/concurrency.js'

// One model on two keys, each allowed one request at a time. A key at its permit limit is
// skipped: the request goes to the other key at once instead of queueing. With both full the
// request waits, and the release of a permit — an answer ending, or a client leaving — wakes it
// and sends it on the key that freed up.

const keys = { a: 'sk-spill-a-secret', b: 'sk-spill-b-secret' }
const limitIds = ['p-two~k-a', 'p-two~k-b']
const messages = [{ role: 'user' as const, content: 'Which key?' }]

describe('concurrency: a full key spills over to the other; both full, the request waits for a permit', () => {
  let stack: Stack
  let client: OpenAI
  let gwArrivals: Arrivals

  beforeAll(async () => {
    stack = await startStack({
      sim: { keys: { [keys.a]: { id: 'a' }, [keys.b]: { id: 'b' } } },
      gateway: (simUrl) => ({
        providers: {
          'p-two': {
            type: 'openai',
            base_url: `${simUrl}/v1`,
            keys: [
              { id: 'k-a', key: keys.a, max_concurrent: 1 },
              { id: 'k-b', key: keys.b, max_concurrent: 1 },
            ],
          },
        },
        models: { two: { targets: [{ provider: 'p-two', model: 'up-two' }] } },
      }),
    })
    client = new OpenAI({ baseURL: stack.baseURL, apiKey: 'client-key', maxRetries: 0 })
    gwArrivals = new Arrivals(stack.gw.port)
  })
  afterAll(async () => {
    gwArrivals?.close()
    await stack?.close()
  })

  const ask = (id: string): Promise<OpenAI.Chat.Completions.ChatCompletion> =>
    client.chat.completions.create({ model: 'two', messages, max_tokens: 4 }, { headers: { 'x-request-id': id } })

  interface Holder {
    readonly id: string
    readonly call: OpenCall
    /** The key id (k-a or k-b) whose only permit it holds. */
    readonly key: string
    abort(): void
  }

  /**
   * A stream the simulator sends slowly (40 ms a chunk; 200 chunks unless told): once its first
   * chunk is here it holds one key's only permit, until it ends or the test aborts it.
   */
  async function hold(id: string, chunks = 200): Promise<Holder> {
    stack.sim.script([{ kind: 'slow_chunks', interval_ms: 40, chunks, match: { model: 'up-two' } }])
    const controller = new AbortController()
    const call = openCall(stack.gw.url, { id, model: 'two', stream: true, signal: controller.signal })
    const headers = await call.headers
    await call.firstChunk
    const key = (headers['x-sluice-deployment'] ?? '').split('/')[1] ?? ''
    expect(['k-a', 'k-b']).toContain(key)
    return { id, call, key, abort: () => controller.abort() }
  }

  async function permits(): Promise<Record<string, number>> {
    const status = await concurrencyStatus(stack.gw.url)
    return Object.fromEntries(status.concurrency.map((l) => [l.id, l.in_flight]))
  }

  const held = (a: number, b: number): Record<string, number> => ({ [limitIds[0] as string]: a, [limitIds[1] as string]: b })
  const other = (key: string): string => (key === 'k-a' ? 'k-b' : 'k-a')

  async function logOf(id: string): Promise<Record<string, unknown>> {
    const records = await stack.logs.waitForAccessLog((all) => all.some((r) => r.requestId === id))
    return records.find((r) => r.requestId === id) as Record<string, unknown>
  }

  /** The simulator's record of a request, once it has finished it. */
  async function upstreamRecord(id: string): Promise<{ started_at: number; ended_at: number; key_id: string }> {
    for (;;) {
      const records = stack.sim.requests()
      const found = records.find((r) => r.headers['x-request-id'] === id)
      if (found) return found
      await stack.sim.waitForRequests(records.length + 1)
    }
  }

  it('a key at its permit limit is skipped: the next requests go to the other key at once', async () => {
    const h = await hold('hold-1')
    expect(await permits()).toEqual(h.key === 'k-a' ? held(1, 0) : held(0, 1))

    // Sent one after the other: the first goes to the free key by rotation; for the second the
    // rotation points at the held key, which is full, so it is skipped as well.
    expect((await ask('spill-1')).object).toBe('chat.completion')
    expect((await ask('spill-2')).object).toBe('chat.completion')
    for (const id of ['spill-1', 'spill-2']) {
      expect(await logOf(id), id).toMatchObject({ status: 200, key: other(h.key), queuedMs: 0, attempts: 1 })
    }
    // The holder never let go meanwhile.
    expect(await permits()).toEqual(h.key === 'k-a' ? held(1, 0) : held(0, 1))

    h.abort()
    expect((await h.call.result).aborted).toBe(true)
    expect(await logOf('hold-1')).toMatchObject({ status: 499, key: h.key })
    expect(await permits()).toEqual(held(0, 0))
  })

  it('both keys full: the request waits, and each released permit sends the waiting request on that key', async () => {
    const first = await hold('hold-2a')
    const second = await hold('hold-2b')
    expect(second.key).toBe(other(first.key))
    expect(await permits()).toEqual(held(1, 1))

    // 1. Released by a client leaving.
    const waiting = ask('wait-1')
    await gwArrivals.arrived('wait-1')
    let status = await concurrencyStatus(stack.gw.url)
    expect(status.queues.two?.waiting).toBe(1)
    expect(stack.sim.requests().some((r) => r.headers['x-request-id'] === 'wait-1')).toBe(false)
    first.abort()
    expect((await waiting).object).toBe('chat.completion')
    expect(await logOf('wait-1')).toMatchObject({ status: 200, key: first.key, attempts: 1 })
    expect((await logOf('wait-1')).queuedMs as number).toBeGreaterThan(0)
    expect((await first.call.result).aborted).toBe(true)
    // The other key's holder is still streaming: the waiting request went to the key that freed.
    expect(await permits()).toEqual(second.key === 'k-a' ? held(1, 0) : held(0, 1))

    // 2. Released by an answer ending: a short stream (25 chunks, about 1 s) on the free key.
    const ending = await hold('hold-2c', 25)
    expect(ending.key).toBe(first.key)
    const next = ask('wait-2')
    await gwArrivals.arrived('wait-2')
    status = await concurrencyStatus(stack.gw.url)
    expect(status.queues.two?.waiting).toBe(1)
    const ended = await ending.call.result
    expect(ended.aborted).toBe(false)
    expect(ended.text.trimEnd().endsWith('data: [DONE]')).toBe(true)
    expect((await next).object).toBe('chat.completion')
    expect(await logOf('wait-2')).toMatchObject({ status: 200, key: ending.key, attempts: 1 })
    // Sent upstream only once the stream that held the permit had ended there.
    const [endedUpstream, sentUpstream] = [await upstreamRecord('hold-2c'), await upstreamRecord('wait-2')]
    expect(sentUpstream.started_at).toBeGreaterThanOrEqual(endedUpstream.ended_at)

    second.abort()
    expect((await second.call.result).aborted).toBe(true)
    await logOf('hold-2b')
    expect(await permits()).toEqual(held(0, 0))
    status = await concurrencyStatus(stack.gw.url)
    expect(status.queues.two?.waiting).toBe(0)
  })
})
