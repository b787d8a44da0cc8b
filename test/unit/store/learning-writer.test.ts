import { afterEach, describe, expect, it, vi } from 'vitest'
import { LimitRegistry } from '../../../src/core/limit/registry.js'
import { LearningWriter } from '../../../src/store/learning-writer.js'
import type { KeyLearning, KeyLearningStore } from '../../../src/store/types.js'

class MemoryLearningStore implements KeyLearningStore {
  readonly batches: KeyLearning[][] = []
  failNext = 0
  loadAll(): Promise<KeyLearning[]> {
    return Promise.resolve(this.batches.flat())
  }
  saveAll(records: readonly KeyLearning[]): Promise<void> {
    if (this.failNext > 0) {
      this.failNext--
      return Promise.reject(new Error('disk full'))
    }
    this.batches.push([...records])
    return Promise.resolve()
  }
}

afterEach(() => {
  vi.useRealTimers()
})

describe('LearningWriter', () => {
  it('writes nothing while nothing changes, then one batch per delay', async () => {
    vi.useFakeTimers()
    const registry = new LimitRegistry()
    const limit = registry.obtain('sim', 'k1', null)
    registry.takeChanged()
    const store = new MemoryLearningStore()
    const writer = new LearningWriter(registry, store, { delayMs: 1_000 })
    await vi.advanceTimersByTimeAsync(10_000)
    expect(store.batches).toHaveLength(0)
    limit.refused(1, 'concurrent', 5)
    limit.refused(2, 'rpm', 5)
    expect(vi.getTimerCount()).toBe(1)
    await vi.advanceTimersByTimeAsync(1_000)
    expect(store.batches).toHaveLength(1)
    expect(store.batches[0]).toHaveLength(1)
    expect(store.batches[0]![0]).toMatchObject({ concurrent429Count: 1, rpm429Count: 1 })
    expect(vi.getTimerCount()).toBe(0)
    await writer.close()
  })

  it('flush writes at once; close writes what is pending and stops listening', async () => {
    const registry = new LimitRegistry()
    const limit = registry.obtain('sim', 'k1', null)
    const store = new MemoryLearningStore()
    const writer = new LearningWriter(registry, store, { delayMs: 60_000 })
    await writer.flush()
    expect(store.batches).toHaveLength(1)
    limit.refused(1, 'tpm', 5)
    await writer.close()
    expect(store.batches).toHaveLength(2)
    limit.refused(2, 'tpm', 5)
    await Promise.resolve()
    expect(store.batches).toHaveLength(2)
  })

  it('a failed write is reported and retried later with what changed meanwhile', async () => {
    vi.useFakeTimers()
    const registry = new LimitRegistry()
    const limit = registry.obtain('sim', 'k1', null)
    registry.takeChanged()
    const store = new MemoryLearningStore()
    const errors: unknown[] = []
    const writer = new LearningWriter(registry, store, { delayMs: 1_000, onError: (e) => errors.push(e) })
    store.failNext = 1
    limit.refused(1, 'concurrent', 5)
    await vi.advanceTimersByTimeAsync(1_000)
    expect(errors).toHaveLength(1)
    expect(store.batches).toHaveLength(0)
    // The retry waits twice as long after one failure.
    await vi.advanceTimersByTimeAsync(1_999)
    expect(store.batches).toHaveLength(0)
    await vi.advanceTimersByTimeAsync(1)
    expect(store.batches).toHaveLength(1)
    expect(store.batches[0]![0]).toMatchObject({ id: 'sim~k1', concurrent429Count: 1 })
    await writer.close()
  })
})
