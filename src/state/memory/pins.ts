import type { PinStore } from '../pins.js'
import type { MemoryBacking } from './backing.js'

/** Most pins kept in one process; past it the oldest go first (as src/core/balance/pins.ts). */
const maxPins = 50_000

export class MemoryPinStore implements PinStore {
  constructor(readonly backing: MemoryBacking) {}

  async pin(objectId: string, keyId: string, ttlMs: number): Promise<void> {
    const pins = this.backing.pins
    pins.delete(objectId)
    pins.set(objectId, { keyId, until: this.backing.now() + ttlMs })
    if (pins.size > maxPins) {
      const oldest = pins.keys().next().value
      if (oldest !== undefined) pins.delete(oldest)
    }
  }

  async keyOf(objectId: string): Promise<string | null> {
    const pin = this.backing.pins.get(objectId)
    if (pin === undefined) return null
    if (pin.until <= this.backing.now()) {
      this.backing.pins.delete(objectId)
      return null
    }
    return pin.keyId
  }

  async unpin(objectId: string): Promise<void> {
    this.backing.pins.delete(objectId)
  }
}
