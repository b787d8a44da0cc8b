import { describe, expect, it } from 'vitest'
import { StateUnavailableError } from '../../../src/state/errors.js'
import type { RedisConnection } from '../../../src/state/redis/connection.js'
import { RedisKeys } from '../../../src/state/redis/keys.js'
import { RedisPermitLeases } from '../../../src/state/redis/permits.js'

describe('a lease whose acquire timed out', () => {
  it('is removed by the id the instance made, without waiting, since Redis may have taken it before the answer was lost', async () => {
    const sent: unknown[][] = []
    const conn = {
      run: () => Promise.reject(new StateUnavailableError('timeout', 'acquire-lease took longer than 250 ms')),
      command: (...args: unknown[]) => {
        sent.push(args)
        return Promise.resolve(1)
      },
    } as unknown as RedisConnection
    const leases = new RedisPermitLeases(conn, new RedisKeys('p:'), 'inst-a')
    await expect(leases.acquire('k1', 3)).rejects.toBeInstanceOf(StateUnavailableError)
    expect(sent).toEqual([['ZREM', 'p:{k:k1}:leases', 'inst-a/1']])
  })

  it('a removal that fails too is left to the lease TTL, and is not a second error', async () => {
    const conn = {
      run: () => Promise.reject(new StateUnavailableError('disconnected', 'Redis is away')),
      command: () => Promise.reject(new StateUnavailableError('disconnected', 'Redis is away')),
    } as unknown as RedisConnection
    await expect(new RedisPermitLeases(conn, new RedisKeys('p:'), 'inst-a').acquire('k1', 3)).rejects.toThrow('Redis is away')
  })
})
