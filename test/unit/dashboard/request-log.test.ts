import { describe, expect, it } from 'vitest'
import type { RequestContext } from '../../../src/context.js'
import { RequestLog } from '../../../src/dashboard/request-log.js'

// A finished request as the observe stage hands it on: only the fields the log reads.
function finished(i: number, model: string, status = 200): RequestContext {
  return {
    id: `req-${i}`, endpoint: 'chat', model, servingRoute: { name: model }, provider: { id: 'p' }, key: { id: `k${i % 2}` }, consumer: { name: 'team' },
    priority: 2, status, outcome: status === 200 ? 'success' : 'rejected', errorCode: status === 200 ? null : 'queue_full',
    startedAt: 0, queuedMs: 5, upstreamStartedAt: 10, upstreamFirstByteAt: 30, usage: { promptTokens: 3, completionTokens: 4 }, attempts: [{}],
    body: Buffer.from('{"secret prompt"}'), json: { messages: [] },
  } as unknown as RequestContext
}

describe('RequestLog', () => {
  it('keeps the newest `capacity` entries in order, reusing its slots', () => {
    const log = new RequestLog(3)
    for (let i = 1; i <= 5; i++) log.record(finished(i, 'm'), 1000 + i, 100)
    expect(log.lastSeq).toBe(5)
    expect(log.since(0).map((e) => e.requestId)).toEqual(['req-3', 'req-4', 'req-5'])
    expect(log.since(4).map((e) => e.seq)).toEqual([5])
    expect(log.since(5)).toEqual([])
  })

  it('filters by model, key, consumer and status, and limits to the newest', () => {
    const log = new RequestLog(10)
    for (let i = 1; i <= 6; i++) log.record(finished(i, i % 3 === 0 ? 'b' : 'a', i === 6 ? 503 : 200), i, 100)
    expect(log.since(0, { model: 'b' }).map((e) => e.seq)).toEqual([3, 6])
    expect(log.since(0, { key: 'k1' }).map((e) => e.seq)).toEqual([1, 3, 5])
    expect(log.since(0, { status: 503 }).map((e) => [e.seq, e.error])).toEqual([[6, 'queue_full']])
    expect(log.since(0, { consumer: 'other' })).toEqual([])
    expect(log.since(0, {}, 2).map((e) => e.seq)).toEqual([5, 6])
  })

  it('records ids and numbers only: no body, no key value', () => {
    const log = new RequestLog(2)
    log.record(finished(1, 'a'), 1, 100)
    const [e] = log.since(0)
    expect(e).toMatchObject({ model: 'a', provider: 'p', key: 'k1', consumer: 'team', priority: 'normal', totalMs: 100, queuedMs: 5, ttftMs: 20, promptTokens: 3, completionTokens: 4 })
    expect(JSON.stringify(e)).not.toContain('secret prompt')
  })
})
