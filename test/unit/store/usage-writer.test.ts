import { describe, expect, it } from 'vitest'
import type { UsageRecord, UsageStore } from '../../../src/store/types.js'
import { systemTimers, type Timers } from '../../../src/core/clock.js'
import { UsageWriter, type UsageWriterOptions } from '../../../src/store/usage-writer.js'

/** Timers driven by hand: advance() fires what is due, in order, letting promises settle after each. */
class ManualTimers implements Timers {
  now = 0
  #seq = 0
  readonly armed = new Map<number, { at: number; fn: () => void }>()

  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.#seq
    this.armed.set(id, { at: this.now + ms, fn })
    return id
  }

  clearTimeout(handle: unknown): void {
    this.armed.delete(handle as number)
  }

  /** The delays of the armed timers, from now. */
  get delays(): number[] {
    return [...this.armed.values()].map((t) => t.at - this.now)
  }

  async advance(ms: number): Promise<void> {
    const end = this.now + ms
    for (;;) {
      await settle()
      let next: [number, { at: number; fn: () => void }] | undefined
      for (const entry of this.armed) if (entry[1].at <= end && (next === undefined || entry[1].at < next[1].at)) next = entry
      if (next === undefined) break
      this.armed.delete(next[0])
      this.now = next[1].at
      next[1].fn()
    }
    this.now = end
    await settle()
  }
}

/** Lets every promise chain that can move, move. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve))
}

class MemoryUsage implements Pick<UsageStore, 'appendBatch' | 'prune'> {
  readonly batches: UsageRecord[][] = []
  readonly pruned: number[] = []
  /** Calls to appendBatch, failed or not. */
  calls = 0
  /** Fails this many calls from now. */
  failNext = 0
  down = false
  /** When set, appendBatch waits for release() before it answers. */
  gated = false
  #waiting: (() => void)[] = []

  async appendBatch(records: readonly UsageRecord[]): Promise<void> {
    this.calls++
    const copy = [...records]
    if (this.gated) await new Promise<void>((resolve) => this.#waiting.push(resolve))
    if (this.down || this.failNext > 0) {
      if (this.failNext > 0) this.failNext--
      throw new Error('database is locked')
    }
    this.batches.push(copy)
  }

  async prune(before: number): Promise<number> {
    this.pruned.push(before)
    return 7
  }

  release(): void {
    for (const w of this.#waiting.splice(0)) w()
  }

  get ids(): string[] {
    return this.batches.flat().map((r) => r.requestId)
  }
}

function rec(i: number): UsageRecord {
  return {
    at: 1_000 + i,
    requestId: `r${i}`,
    consumerId: 'c',
    keyPrefix: null,
    sessionId: null,
    model: 'm',
    deployment: null,
    status: 200,
    outcome: 'success',
    promptTokens: 1,
    completionTokens: 1,
    costUsd: 0,
    queueMs: 0,
    latencyMs: 1,
    partial: false,
    priority: null,
  }
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i)
const ids = (from: number, to: number): string[] => range(from, to).map((i) => `r${i}`)

function setup(opts: UsageWriterOptions = {}) {
  const timers = new ManualTimers()
  const store = new MemoryUsage()
  const errors: unknown[] = []
  let drops = 0
  const writer = new UsageWriter(store, {
    timers,
    onError: (e) => errors.push(e),
    onDrop: () => drops++,
    closeRetryDelayMs: 0,
    ...opts,
  })
  return { timers, store, writer, errors, drops: () => drops }
}

describe('UsageWriter', () => {
  it('record() only buffers: one timer, one batch after the delay', async () => {
    const { timers, store, writer } = setup({ delayMs: 1_000 })
    writer.record(rec(0))
    writer.record(rec(1))
    expect(store.calls).toBe(0)
    expect(timers.delays).toEqual([1_000])
    expect(writer.pending).toBe(2)
    await timers.advance(999)
    expect(store.calls).toBe(0)
    await timers.advance(1)
    expect(store.batches).toEqual([[rec(0), rec(1)]])
    expect(writer.written).toBe(2)
    expect(writer.pending).toBe(0)
    expect(timers.armed.size).toBe(0)
  })

  it('starts a write without waiting once a batch has gathered, never inside record()', async () => {
    const { timers, store, writer } = setup({ delayMs: 1_000, batchSize: 3 })
    for (const i of range(0, 3)) writer.record(rec(i))
    expect(store.calls).toBe(0)
    expect(timers.delays).toEqual([0])
    await timers.advance(0)
    expect(store.batches).toEqual([[rec(0), rec(1), rec(2)]])
  })

  it('writes one batch at a time, the next as soon as the last is stored', async () => {
    const { timers, store, writer } = setup({ batchSize: 500 })
    store.gated = true
    for (const i of range(0, 1_200)) writer.record(rec(i))
    await timers.advance(0)
    expect(store.calls).toBe(1)
    await timers.advance(5_000)
    expect(store.calls).toBe(1)
    store.release()
    await timers.advance(0)
    expect(store.calls).toBe(2)
    store.release()
    await timers.advance(1_000)
    store.release()
    await timers.advance(0)
    expect(store.batches.map((b) => b.length)).toEqual([500, 500, 200])
    expect(store.ids).toEqual(ids(0, 1_200))
  })

  it('drops and counts records past its capacity, the batch in flight included', async () => {
    const { timers, store, writer, drops } = setup({ capacity: 10, batchSize: 4 })
    store.gated = true
    for (const i of range(0, 4)) writer.record(rec(i))
    await timers.advance(0)
    expect(store.calls).toBe(1)
    for (const i of range(4, 12)) writer.record(rec(i))
    expect(writer.pending).toBe(10)
    expect(writer.dropped).toBe(2)
    expect(drops()).toBe(2)
    store.gated = false
    store.release()
    await writer.close()
    expect(store.ids).toEqual(ids(0, 10))
    expect(store.batches.map((b) => b.length)).toEqual([4, 4, 2])
  })

  it('never throws from record(), even when the drop callback does', () => {
    const { writer } = setup({
      capacity: 1,
      onDrop: () => {
        throw new Error('metric broke')
      },
    })
    writer.record(rec(0))
    expect(() => writer.record(rec(1))).not.toThrow()
    expect(writer.dropped).toBe(1)
  })

  it('keeps a failed batch and tries it again after a doubling wait, in order', async () => {
    const { timers, store, writer, errors } = setup({ delayMs: 1_000 })
    store.failNext = 2
    writer.record(rec(0))
    await timers.advance(1_000)
    expect(errors).toHaveLength(1)
    expect(writer.pending).toBe(1)
    writer.record(rec(1))
    expect(timers.delays).toEqual([2_000])
    await timers.advance(1_999)
    expect(store.calls).toBe(1)
    await timers.advance(1)
    expect(store.calls).toBe(2)
    expect(errors).toHaveLength(2)
    expect(timers.delays).toEqual([4_000])
    await timers.advance(4_000)
    expect(store.batches).toEqual([[rec(0), rec(1)]])
    expect(writer.dropped).toBe(0)
    // Success resets the wait.
    writer.record(rec(2))
    expect(timers.delays).toEqual([1_000])
  })

  it('caps the wait between tries', async () => {
    const { timers, store, writer } = setup({ delayMs: 1_000, maxDelayMs: 5_000 })
    store.down = true
    writer.record(rec(0))
    for (let i = 0; i < 6; i++) await timers.advance(Math.max(...timers.delays))
    expect(timers.delays).toEqual([5_000])
  })

  it('while failing, waits out the backoff even when a full batch is pending', async () => {
    const { timers, store, writer } = setup({ delayMs: 1_000, batchSize: 2 })
    store.failNext = 1
    writer.record(rec(0))
    await timers.advance(1_000)
    writer.record(rec(1))
    writer.record(rec(2))
    expect(timers.delays).toEqual([2_000])
  })

  it('loses no record while the database is down, as long as the buffer has room', async () => {
    const { timers, store, writer, errors } = setup({ delayMs: 1_000, batchSize: 5, capacity: 100 })
    store.down = true
    let next = 0
    for (let step = 0; step < 8; step++) {
      for (let i = 0; i < 7; i++) writer.record(rec(next++))
      await timers.advance(10_000)
    }
    expect(errors.length).toBeGreaterThan(3)
    expect(store.batches).toEqual([])
    expect(writer.pending).toBe(56)
    store.down = false
    await timers.advance(70_000)
    await writer.flush()
    expect(store.ids).toEqual(ids(0, 56))
    expect(writer.dropped).toBe(0)
    expect(writer.written).toBe(56)
  })

  it('says when a batch is stored, and how many records it holds out of how many it may', async () => {
    let written = 0
    const { timers, store, writer } = setup({ delayMs: 1_000, batchSize: 5, capacity: 20, onWritten: () => written++ })
    expect(writer.capacity).toBe(20)
    store.down = true
    for (let i = 0; i < 12; i++) writer.record(rec(i))
    await timers.advance(1_000)
    expect([written, writer.pending]).toEqual([0, 12])
    store.down = false
    await writer.flush()
    expect([written, writer.pending]).toEqual([3, 0])
  })

  it('puts a failed batch back in front of what arrived during the write, even with the buffer full', async () => {
    const { timers, store, writer } = setup({ capacity: 10, batchSize: 5 })
    store.gated = true
    store.failNext = 1
    for (const i of range(0, 5)) writer.record(rec(i))
    await timers.advance(0)
    for (const i of range(5, 11)) writer.record(rec(i))
    expect(writer.dropped).toBe(1)
    store.release()
    await timers.advance(0)
    expect(writer.pending).toBe(10)
    store.gated = false
    await writer.flush()
    expect(store.ids).toEqual(ids(0, 10))
  })

  it('flush() writes everything now, in batches, and resolves even when the database fails', async () => {
    const { store, writer, errors } = setup({ batchSize: 4, delayMs: 60_000 })
    for (const i of range(0, 10)) writer.record(rec(i))
    await writer.flush()
    expect(store.batches.map((b) => b.length)).toEqual([4, 4, 2])
    store.down = true
    writer.record(rec(10))
    await expect(writer.flush()).resolves.toBeUndefined()
    expect(errors).toHaveLength(1)
    expect(writer.pending).toBe(1)
  })

  it('close() writes everything, waits for a write in flight, and disarms its timer', async () => {
    const { timers, store, writer } = setup({ batchSize: 3 })
    store.gated = true
    for (const i of range(0, 7)) writer.record(rec(i))
    await timers.advance(0)
    const closing = writer.close()
    store.release()
    await settle()
    store.release()
    await settle()
    store.release()
    await closing
    expect(store.ids).toEqual(ids(0, 7))
    expect(timers.armed.size).toBe(0)
    expect(writer.dropped).toBe(0)
  })

  it('after close(), records are dropped and counted, and close() again does nothing', async () => {
    const { store, writer, drops } = setup()
    writer.record(rec(0))
    await writer.close()
    writer.record(rec(1))
    expect(writer.dropped).toBe(1)
    expect(drops()).toBe(1)
    await writer.close()
    expect(store.ids).toEqual(['r0'])
  })

  it('close() tries a refusing database a few times, then drops and counts what is left', async () => {
    const { store, writer, errors, drops } = setup({ closeAttempts: 3 })
    store.down = true
    for (const i of range(0, 3)) writer.record(rec(i))
    await writer.close()
    expect(store.calls).toBe(3)
    expect(errors).toHaveLength(3)
    expect(writer.dropped).toBe(3)
    expect(drops()).toBe(3)
    expect(writer.pending).toBe(0)
  })

  it('close() succeeds on a later try when the database comes back', async () => {
    const { store, writer } = setup({ closeAttempts: 3 })
    store.failNext = 2
    writer.record(rec(0))
    await writer.close()
    expect(store.ids).toEqual(['r0'])
    expect(writer.dropped).toBe(0)
  })

  it('close() waits between tries on its timers', async () => {
    const { timers, store, writer } = setup({ closeAttempts: 2, closeRetryDelayMs: 250 })
    store.failNext = 1
    writer.record(rec(0))
    const closing = writer.close()
    await settle()
    expect(store.calls).toBe(1)
    expect(timers.delays).toEqual([250])
    await timers.advance(250)
    await closing
    expect(store.ids).toEqual(['r0'])
  })

  it('an adapter that throws synchronously counts as a failed write', async () => {
    const timers = new ManualTimers()
    const errors: unknown[] = []
    let calls = 0
    const store: Pick<UsageStore, 'appendBatch' | 'prune'> = {
      appendBatch: () => {
        calls++
        if (calls === 1) throw new Error('sync boom')
        return Promise.resolve()
      },
      prune: () => Promise.resolve(0),
    }
    const writer = new UsageWriter(store, { timers, onError: (e) => errors.push(e) })
    writer.record(rec(0))
    await timers.advance(1_000)
    expect(errors).toHaveLength(1)
    await timers.advance(2_000)
    expect(calls).toBe(2)
    expect(writer.written).toBe(1)
  })

  it('prune(retention) deletes what is older than now minus the retention', async () => {
    const store = new MemoryUsage()
    const writer = new UsageWriter(store, { clock: () => 1_000_000, timers: new ManualTimers() })
    expect(await writer.prune(86_400)).toBe(7)
    expect(store.pruned).toEqual([1_000_000 - 86_400])
    expect(await writer.prune(0)).toBe(0)
    expect(store.pruned).toHaveLength(1)
  })

  it('by default arms unref’d timers', () => {
    const t = systemTimers.setTimeout(() => undefined, 60_000) as NodeJS.Timeout
    expect(t.hasRef()).toBe(false)
    systemTimers.clearTimeout(t)
  })
})
