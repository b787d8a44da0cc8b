import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import type { RequestRecord } from '../../src/simulator/index.js'
import { SluiceProcess } from './child.js'
import { postgresDatabase, type TestDatabase } from './consumers.js'
import { within } from './failover.js'

// Several real `sluice start` processes sharing one Redis (a fresh key prefix) and one Postgres
// (a fresh schema), for the tests of issue 15 that need instances to be separate processes: a
// `kill -9` must leave leases behind exactly as a crash would.

export const redisUrl = process.env.SLUICE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0'

export interface Cluster {
  readonly prefix: string
  readonly processes: SluiceProcess[]
  readonly urls: string[]
  /** A client on the same Redis, for reading what the instances share. */
  readonly redis: Redis
  close(): Promise<void>
}

/** Starts `n` instances of the config `yaml(databaseUrl, prefix)` and waits until each listens (bounded). */
export async function startCluster(n: number, yaml: (database: string, prefix: string) => string, label: string): Promise<Cluster> {
  const prefix = `sluice-test-${label}-${randomBytes(4).toString('hex')}:`
  const db: TestDatabase = await postgresDatabase(label)
  const dir = mkdtempSync(join(tmpdir(), `sluice-${label}-`))
  const file = join(dir, 'sluice.yaml')
  writeFileSync(file, yaml(db.url, prefix))
  // One at a time: the first applies the database's migrations, the others find them done.
  const processes: SluiceProcess[] = []
  const urls: string[] = []
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 })
  const close = async (): Promise<void> => {
    for (const p of processes) if (p.child.exitCode === null && p.child.signalCode === null) p.kill('SIGKILL')
    await Promise.all(processes.map((p) => within(p.exited, 10_000, 'sluice to exit')))
    const keys = await redis.keys(`${prefix}*`)
    if (keys.length > 0) await redis.del(...keys)
    redis.disconnect()
    await db.drop()
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    for (let i = 0; i < n; i++) {
      const p = SluiceProcess.start(['start', '--config', file, '--port', '0', '--no-watch'])
      processes.push(p)
      urls.push(await within(p.url(), 30_000, `instance ${i + 1} to listen`))
    }
  } catch (err) {
    await close()
    throw err
  }
  return { prefix, processes, urls, redis, close }
}

/** The leases key of an upstream key (state/redis/keys.ts). */
export function leasesKey(prefix: string, keyId: string): string {
  return `${prefix}{k:${keyId}}:leases`
}

/** The most requests the upstream had in flight at once among `records` (by start and end time). */
export function maxOverlap(records: readonly RequestRecord[]): number {
  const events: [number, number][] = []
  for (const r of records) {
    events.push([r.started_at, 1], [r.ended_at, -1])
  }
  // An end and a start at the same instant: the end first, as the upstream frees the slot before taking the next.
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1])
  let level = 0
  let max = 0
  for (const [, step] of events) {
    level += step
    max = Math.max(max, level)
  }
  return max
}

/** Requests the upstream took (2xx) held a slot from start to end: their busy time over `capacity × span`. */
export function utilisation(records: readonly RequestRecord[], capacity: number, from: number, to: number): number {
  let busy = 0
  for (const r of records) {
    if (r.status < 200 || r.status >= 300) continue
    busy += Math.max(0, Math.min(r.ended_at, to) - Math.max(r.started_at, from))
  }
  return busy / (capacity * (to - from))
}
