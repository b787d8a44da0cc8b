import type { PinStore } from '../pins.js'
import type { RedisConnection } from './connection.js'
import type { RedisKeys } from './keys.js'

export class RedisPinStore implements PinStore {
  constructor(
    readonly conn: RedisConnection,
    readonly keys: RedisKeys,
  ) {}

  async pin(objectId: string, keyId: string, ttlMs: number): Promise<void> {
    await this.conn.run('pin-set', [this.keys.pin(objectId)], [keyId, ttlMs])
  }

  async keyOf(objectId: string): Promise<string | null> {
    const keyId = await this.conn.run<string>('pin-get', [this.keys.pin(objectId)], [])
    return keyId === '' ? null : keyId
  }

  async unpin(objectId: string): Promise<void> {
    await this.conn.command('DEL', this.keys.pin(objectId))
  }
}
