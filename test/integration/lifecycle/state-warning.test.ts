import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startGateway, type Gateway } from '../../../src/main.js'
import { createLogger } from '../../../src/telemetry/logger.js'
import { LogCapture } from '../../support/harness.js'

// `state: redis://…` is accepted but not used yet by the request path; sluice must say so rather
// than let several instances believe they share limits. The warning names where, never a password.

describe('state: Redis before it is wired in', () => {
  const logs = new LogCapture()
  let gw: Gateway
  beforeAll(async () => {
    gw = await startGateway({
      config: {
        value: {
          // The config must name a shared database to accept Redis; the gateway still runs on SQLite in memory.
          database: 'postgres://postgres@127.0.0.1:5432/test',
          state: { url: 'redis://127.0.0.1:6379/0', password: 'not-this-secret-5c1e' },
          providers: { sim: { type: 'openai', base_url: 'http://127.0.0.1:9/v1', keys: [{ id: 'k1', key: 'sk-sim-test-1' }] } },
          models: { 'test-model': { targets: [{ provider: 'sim', model: 'sim-model' }] } },
        },
        label: 'test',
      },
      logger: createLogger({ level: 'info', destination: logs }),
      port: 0,
      processMetrics: false,
      database: 'sqlite::memory:',
      watch: false,
    })
  })
  afterAll(() => gw?.shutdown())

  it('warns once at start that every limit is kept per instance, without the password', () => {
    const lines = logs.entries().filter((l) => String(l.msg).includes('Redis is not used by this version yet'))
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatchObject({ state: 'redis://127.0.0.1:6379/0' })
    expect(logs.lines.join('\n')).not.toContain('not-this-secret-5c1e')
  })
})
