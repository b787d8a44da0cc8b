import type { Redis } from 'ioredis'
import { parseInvalidation, type Invalidation, type InvalidationBus } from '../invalidation.js'
import type { RedisConnection } from './connection.js'
import type { RedisKeys } from './keys.js'

/** PUBLISH on the main connection; one SUBSCRIBE connection per instance, opened on first subscribe. */
export class RedisInvalidationBus implements InvalidationBus {
  #subscriber: Redis | null = null
  #ready: Promise<void> | null = null
  #listeners: readonly ((event: Invalidation) => void)[] = []

  constructor(
    readonly conn: RedisConnection,
    readonly keys: RedisKeys,
  ) {}

  async publish(event: Invalidation): Promise<void> {
    await this.conn.command('PUBLISH', this.keys.invalidation, JSON.stringify(event))
  }

  async subscribe(listener: (event: Invalidation) => void): Promise<() => Promise<void>> {
    // Listening only once subscribed: a subscribe that fails (Redis away) leaves nothing behind to retry over.
    await this.#open()
    this.#listeners = [...this.#listeners, listener]
    return async () => {
      this.#listeners = this.#listeners.filter((l) => l !== listener)
    }
  }

  async close(): Promise<void> {
    this.#subscriber?.disconnect(false)
    this.#subscriber = null
  }

  #open(): Promise<void> {
    if (this.#ready !== null) return this.#ready
    const sub = this.conn.subscriber()
    this.#subscriber = sub
    sub.on('message', (channel: string, text: string) => {
      if (channel !== this.keys.invalidation) return
      const event = parseInvalidation(text)
      if (event === null) return
      for (const l of this.#listeners) l(event)
    })
    this.#ready = sub.subscribe(this.keys.invalidation).then(
      () => undefined,
      (err: unknown) => {
        this.#ready = null
        throw err
      },
    )
    return this.#ready
  }
}
