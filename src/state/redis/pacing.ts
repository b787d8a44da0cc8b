import type { PaceGrant, SharedPacing } from '../pacing.js'
import type { RedisConnection } from './connection.js'
import type { RedisKeys } from './keys.js'

/** The shared GCRA schedule: one script call per take or pause. */
export class RedisSharedPacing implements SharedPacing {
  constructor(
    readonly conn: RedisConnection,
    readonly keys: RedisKeys,
  ) {}

  async take(keyId: string, requestIntervalMs: number, tokenIntervalMs: number, tokens: number): Promise<PaceGrant> {
    const [granted, waitMs] = await this.conn.run<[number, number]>('pace', [this.keys.upstream(keyId).pace], [requestIntervalMs, tokenIntervalMs, tokens])
    return { granted: granted === 1, waitMs }
  }

  async refund(keyId: string, requestIntervalMs: number, tokenIntervalMs: number, tokens: number): Promise<void> {
    await this.conn.run('pace-refund', [this.keys.upstream(keyId).pace], [requestIntervalMs, tokenIntervalMs, tokens])
  }

  async pause(keyId: string, ms: number): Promise<void> {
    await this.conn.run('pace-pause', [this.keys.upstream(keyId).pace], [Math.ceil(ms)])
  }
}
