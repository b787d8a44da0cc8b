import type { LeaderElection, LeaderInfo, Leadership } from '../leader.js'
import type { RedisConnection } from './connection.js'
import type { RedisKeys } from './keys.js'

export class RedisLeaderElection implements LeaderElection {
  constructor(
    readonly conn: RedisConnection,
    readonly keys: RedisKeys,
  ) {}

  async campaign(name: string, holder: string, ttlMs: number): Promise<Leadership> {
    const [leader, epoch, ttl] = await this.conn.run<[number, number, number]>('campaign', [this.keys.leader(name)], [holder, ttlMs])
    return { leader: leader === 1, epoch, ttlMs: ttl }
  }

  async resign(name: string, holder: string): Promise<boolean> {
    return (await this.conn.run<number>('resign', [this.keys.leader(name)], [holder])) === 1
  }

  async current(name: string): Promise<LeaderInfo | null> {
    const [holder, epoch, ttlMs] = await this.conn.run<[string, number, number]>('leader', [this.keys.leader(name)], [])
    return holder === '' ? null : { holder, epoch, ttlMs }
  }
}
