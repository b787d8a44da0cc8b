import type { Invalidation, InvalidationBus } from '../invalidation.js'
import type { MemoryBacking } from './backing.js'

/** Delivered to every subscriber over the backing, the sender included, after the publish returns (as a message would be). */
export class MemoryInvalidationBus implements InvalidationBus {
  constructor(readonly backing: MemoryBacking) {}

  async publish(event: Invalidation): Promise<void> {
    const frozen = Object.freeze({ ...event })
    const listeners = this.backing.listeners
    queueMicrotask(() => {
      for (const l of listeners) l(frozen)
    })
  }

  async subscribe(listener: (event: Invalidation) => void): Promise<() => Promise<void>> {
    this.backing.listeners = [...this.backing.listeners, listener]
    return async () => {
      this.backing.listeners = this.backing.listeners.filter((l) => l !== listener)
    }
  }
}
