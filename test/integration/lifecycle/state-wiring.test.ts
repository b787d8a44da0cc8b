import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ConfigSource } from '../../../src/config/holder.js'
import { ConfigError } from '../../../src/config/load.js'
import type { SluiceConfigInput } from '../../../src/config/schema.js'
import { startGateway, type Gateway } from '../../../src/main.js'
import { createLogger } from '../../../src/telemetry/logger.js'
import { LogCapture } from '../../support/harness.js'
import { postgresDatabase, type TestDatabase } from '../../support/consumers.js'

// `state:` opens the shared-state ports at start and closes them at shutdown; Redis beside a
// SQLite database is refused, whether the database comes from the file or apart from it.

const redisUrl = process.env.SLUICE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0'
const password = 'not-this-secret-5c1e'

const config = (state: SluiceConfigInput['state'], database = 'postgres://postgres@127.0.0.1:5432/test'): ConfigSource => ({
  value: {
    database,
    state,
    providers: { sim: { type: 'openai', base_url: 'http://127.0.0.1:9/v1', keys: [{ id: 'k1', key: 'sk-sim-test-1' }] } },
    models: { 'test-model': { targets: [{ provider: 'sim', model: 'sim-model' }] } },
  },
  label: 'test',
})

describe('state: Redis', () => {
  const logs = new LogCapture()
  const prefix = `sluice-test-wiring-${randomBytes(4).toString('hex')}:`
  let db: TestDatabase
  let gw: Gateway
  beforeAll(async () => {
    db = await postgresDatabase('wiring')
    gw = await startGateway({
      config: config({ url: redisUrl, key_prefix: prefix }),
      logger: createLogger({ level: 'info', destination: logs }),
      port: 0,
      processMetrics: false,
      database: db.url,
      watch: false,
    })
  })
  afterAll(async () => {
    await gw?.shutdown()
    await db?.drop()
  })

  it('opens the Redis ports at start and says so once, with where but no password', () => {
    expect(gw.shared.kind).toBe('redis')
    const lines = logs.entries().filter((l) => String(l.msg).includes('shared through Redis'))
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatchObject({ state: 'redis://127.0.0.1:6379/0', prefix })
    expect(logs.lines.join('\n')).not.toContain('not used by this version')
  })

  it('uses the shared ports: a pin written through one connection is read through another', async () => {
    await gw.shared.pins.pin('file-wiring-1', 'sim~k1', 60_000)
    const other = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 })
    try {
      await other.connect()
      const keys = await other.keys(`${prefix}*`)
      expect(keys.length).toBeGreaterThan(0)
      await other.del(...keys)
    } finally {
      other.disconnect()
    }
  })
})

describe('state: Redis beside SQLite', () => {
  it('is refused at start with the reason, when the database comes apart from the file', async () => {
    const started = startGateway({
      config: config({ url: redisUrl, password }),
      logger: createLogger({ level: 'silent' }),
      port: 0,
      processMetrics: false,
      database: 'sqlite::memory:',
      watch: false,
    })
    const err = await started.catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ConfigError)
    expect((err as Error).message).toMatch(/state on Redis needs a shared database/)
    expect((err as Error).message).toMatch(/SQLite file \(sqlite::memory:\) belongs to one process/)
    expect((err as Error).message).not.toContain(password)
  })

  it('is refused by the config compiler when the file names both', async () => {
    const err = await startGateway({ config: config(redisUrl, 'sqlite:./x.db'), logger: createLogger({ level: 'silent' }), port: 0, processMetrics: false, watch: false }).catch((e: unknown) => e)
    expect((err as Error).message).toMatch(/state on Redis needs a shared database/)
  })
})

describe('state: memory (the default)', () => {
  let gw: Gateway
  beforeAll(async () => {
    gw = await startGateway({ config: config(undefined, 'sqlite::memory:'), logger: createLogger({ level: 'silent' }), port: 0, processMetrics: false, watch: false })
  })
  afterAll(() => gw?.shutdown())

  it('keeps every limit in this process', () => {
    expect(gw.shared.kind).toBe('memory')
  })
})
