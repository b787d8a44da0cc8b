import { EventEmitter } from 'node:events'
import type { ServerResponse } from 'node:http'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { EventHub } from '../../../src/dashboard/events.js'

class FakeResponse extends EventEmitter {
  readonly chunks: string[] = []
  ended = false
  writeHead(): this {
    return this
  }
  write(chunk: string): boolean {
    this.chunks.push(chunk)
    return true
  }
  end(chunk?: string): this {
    if (chunk) this.chunks.push(chunk)
    this.ended = true
    return this
  }
}

const asResponse = (r: FakeResponse): ServerResponse => r as unknown as ServerResponse
const flush = () => vi.advanceTimersByTimeAsync(0)

describe('EventHub', () => {
  beforeEach(() => {
    vi.useFakeTimers()
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('builds nothing while nobody watches, one payload per tick for all viewers, and stops when the last one leaves', async () => {
    let built = 0
    const hub = new EventHub({ tick: async () => ({ n: ++built }), intervalMs: 1000 })
    await vi.advanceTimersByTimeAsync(10_000)
    expect(built).toBe(0)

    const a = new FakeResponse()
    const b = new FakeResponse()
    hub.subscribe(asResponse(a), () => true)
    await flush()
    expect(built).toBe(1)
    hub.subscribe(asResponse(b), () => true)
    await vi.advanceTimersByTimeAsync(3_000)
    expect(built).toBe(4)
    expect(a.chunks.filter((c) => c.startsWith('event: tick'))).toHaveLength(4)
    expect(b.chunks.filter((c) => c.startsWith('event: tick'))).toHaveLength(3)
    expect(hub.watchers).toBe(2)

    a.emit('close')
    b.emit('close')
    expect(hub.watchers).toBe(0)
    await vi.advanceTimersByTimeAsync(10_000)
    expect(built).toBe(4)
  })

  it('ends a stream whose session expired, with an `expired` event', async () => {
    let alive = true
    const hub = new EventHub({ tick: async () => ({}), intervalMs: 1000 })
    const r = new FakeResponse()
    hub.subscribe(asResponse(r), () => alive)
    await flush()
    alive = false
    await vi.advanceTimersByTimeAsync(1000)
    expect(r.ended).toBe(true)
    expect(r.chunks.at(-1)).toContain('event: expired')
    expect(hub.watchers).toBe(0)
  })
})
