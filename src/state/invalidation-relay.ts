import type { Invalidation, InvalidationBus } from './invalidation.js'

// Admin changes between instances: this instance's are published for the others, theirs are
// applied here as they arrive (within a Redis round trip, far under the auth cache's TTL, which
// stays the backstop for a message lost while Redis was away).

export interface InvalidationRelayOptions {
  /** Applies a change made on another instance (forgets what the auth cache holds). */
  readonly apply: (event: Invalidation) => void
  /** A publish that failed: the others see the change when their cache entry expires. */
  readonly onError?: (err: unknown, event: Invalidation) => void
}

export class InvalidationRelay {
  readonly #bus: InvalidationBus
  readonly #instanceId: string
  readonly #opts: InvalidationRelayOptions
  #unsubscribe: (() => Promise<void>) | null = null

  constructor(bus: InvalidationBus, instanceId: string, opts: InvalidationRelayOptions) {
    this.#bus = bus
    this.#instanceId = instanceId
    this.#opts = opts
  }

  /** Resolves once subscribed. */
  async start(): Promise<void> {
    this.#unsubscribe = await this.#bus.subscribe((event) => {
      // This instance applied its own change before publishing it.
      if (event.from !== this.#instanceId) this.#opts.apply(event)
    })
  }

  /** Tells the other instances; never waits for them, never throws. */
  publish(change: Pick<Invalidation, 'kind' | 'id'>): void {
    const event: Invalidation = { kind: change.kind, id: change.id, from: this.#instanceId }
    this.#bus.publish(event).catch((err: unknown) => this.#opts.onError?.(err, event))
  }

  async stop(): Promise<void> {
    await this.#unsubscribe?.()
    this.#unsubscribe = null
  }
}
