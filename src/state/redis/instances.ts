import type { InstanceRegistry, LiveInstance } from '../instances.js'
import type { RedisConnection } from './connection.js'
import type { RedisKeys } from './keys.js'

export class RedisInstanceRegistry implements InstanceRegistry {
  constructor(
    readonly conn: RedisConnection,
    readonly keys: RedisKeys,
  ) {}

  heartbeat(instanceId: string, ttlMs: number): Promise<number> {
    return this.conn.run<number>('heartbeat', [this.keys.instances], [instanceId, ttlMs])
  }

  async live(ttlMs: number): Promise<readonly LiveInstance[]> {
    const flat = await this.conn.run<(string | number)[]>('live-instances', [this.keys.instances], [ttlMs])
    const out: LiveInstance[] = []
    for (let i = 0; i < flat.length; i += 2) out.push({ id: String(flat[i]), ageMs: Number(flat[i + 1]) })
    return out
  }

  async leave(instanceId: string): Promise<void> {
    await this.conn.command('ZREM', this.keys.instances, instanceId)
  }
}
