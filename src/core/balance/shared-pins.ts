import { PinTable } from './pins.js'
import type { StateHealth } from '../../state/health.js'
import type { PinStore } from '../../state/pins.js'

// Pins across instances (state: redis): a file, batch or stored response created through one
// instance is reached through any. Each instance keeps its own table in front (what it pinned
// or looked up, without a round trip) and writes every pin through to Redis with a TTL; a
// request naming an object this instance never saw asks Redis once and remembers the answer —
// unless shared state is down: then it is a miss at once, not a wait for the state timeout.

/** How long a shared pin lasts: a stored response is kept upstream for 30 days. */
export const sharedPinTtlMs = 30 * 24 * 3_600_000

export class SharedPinTable extends PinTable {
  constructor(
    readonly store: PinStore,
    readonly onError: (err: unknown) => void = () => {},
    capacity?: number,
    readonly health: Pick<StateHealth, 'up'> | null = null,
  ) {
    super(capacity)
  }

  override pin(objectId: string, keyId: string): void {
    super.pin(objectId, keyId)
    this.store.pin(objectId, keyId, sharedPinTtlMs).catch(this.onError)
  }

  /** The key that created `objectId`, here or on another instance; undefined when none did (or Redis cannot say). */
  async lookup(objectId: string): Promise<string | undefined> {
    const local = this.keyOf(objectId)
    if (local !== undefined) return local
    if (this.health !== null && !this.health.up) return undefined
    let shared: string | null
    try {
      shared = await this.store.keyOf(objectId)
    } catch (err) {
      this.onError(err)
      return undefined
    }
    if (shared === null) return undefined
    super.pin(objectId, shared)
    return shared
  }
}

/** Whether a pin table can ask the other instances (state: redis). */
export function sharesPins(pins: PinTable | null): pins is SharedPinTable {
  return pins instanceof SharedPinTable
}
