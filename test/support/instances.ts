import { randomBytes } from 'node:crypto'
import type { SluiceConfigInput } from '../../src/config/schema.js'
import { startGateway, type Gateway } from '../../src/main.js'
import { createLogger } from '../../src/telemetry/logger.js'
import type { LogCapture } from './harness.js'
import { deletePrefix } from '../conformance/state/backends.js'
import { redisUrl } from './cluster.js'
import { postgresDatabase, type TestDatabase } from './consumers.js'

// Several in-process gateways sharing one Redis prefix and one Postgres schema (state: redis),
// for the tests of issue 15 that need no separate processes: `config` is everything but the
// database and the state, which this adds.

export interface Instances {
  readonly gateways: Gateway[]
  readonly prefix: string
  readonly db: TestDatabase
  /** Shuts every gateway down, drops the schema and deletes the prefix's keys. */
  close(): Promise<void>
}

export async function startInstances(
  n: number,
  label: string,
  config: Omit<SluiceConfigInput, 'database' | 'state'>,
  opts: { readonly logs?: readonly LogCapture[] } = {},
): Promise<Instances> {
  const db = await postgresDatabase(label)
  const prefix = `sluice-test-${label}-${randomBytes(4).toString('hex')}:`
  const gateways: Gateway[] = []
  const close = async (): Promise<void> => {
    for (const gw of gateways) await gw.shutdown()
    await db.drop()
    await deletePrefix(prefix)
  }
  try {
    for (let i = 0; i < n; i++) {
      const destination = opts.logs?.[i]
      gateways.push(
        await startGateway({
          config: { value: { ...config, database: db.url, state: { url: redisUrl, key_prefix: prefix } }, label: `instance ${i + 1}` },
          logger: destination === undefined ? createLogger({ level: 'silent' }) : createLogger({ level: 'info', destination }),
          port: 0,
          processMetrics: false,
          database: db.url,
          watch: false,
        }),
      )
    }
  } catch (err) {
    await close()
    throw err
  }
  return { gateways, prefix, db, close }
}
