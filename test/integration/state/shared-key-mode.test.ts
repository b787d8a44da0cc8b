import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startGateway, type Gateway } from '../../../src/main.js'
import { startSimulator, type Simulator } from '../../../src/simulator/index.js'
import { createLogger } from '../../../src/telemetry/logger.js'
import { deletePrefix } from '../../conformance/state/backends.js'
import { redisUrl } from '../../support/cluster.js'
import { postgresDatabase, type TestDatabase } from '../../support/consumers.js'
import { send } from '../../support/data-plane.js'
import { within } from '../../support/failover.js'
import { LogCapture } from '../../support/harness.js'

// An admin's choice of a key's concurrency mode, made through one instance, is every instance's:
// the other reads it back from the shared database when told (a Redis message), so the key is
// fixed (or learned again) everywhere, and every instance stores the same choice.

const adminKey = 'admin-key-shared-key-mode-0001'
const admin = { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' }

describe('state: redis — a key fixed through one instance is fixed on every instance', () => {
  let sim: Simulator
  let db: TestDatabase
  const gws: Gateway[] = []
  const logs = [new LogCapture(), new LogCapture()]
  const prefix = `sluice-test-mode-${randomBytes(4).toString('hex')}:`

  beforeAll(async () => {
    sim = await startSimulator({ config: { keys: { 'sk-sim-mode': { id: 'mode', headers: 'none' } } } })
    db = await postgresDatabase('mode')
    for (let i = 0; i < 2; i++) {
      gws.push(
        await startGateway({
          config: {
            value: {
              database: db.url,
              state: { url: redisUrl, key_prefix: prefix },
              admin: { keys: [adminKey] },
              providers: { sim: { type: 'openai', base_url: `${sim.url}/v1`, keys: [{ id: 'mode', key: 'sk-sim-mode' }] } },
              models: { m: { targets: [{ provider: 'sim', model: 'sim-model' }] } },
            },
            label: `instance ${i + 1}`,
          },
          logger: createLogger({ level: 'info', destination: logs[i] as LogCapture }),
          port: 0,
          processMetrics: false,
          database: db.url,
          watch: false,
        }),
      )
    }
  }, 30_000)

  afterAll(async () => {
    for (const gw of gws) await gw.shutdown()
    await sim?.close()
    await db?.drop()
    await deletePrefix(prefix)
  })

  const stats = async (gw: Gateway) => (await send(gw.url, '/api/admin/adaptive/keys/sim~mode/stats', { headers: admin })).json<{ adaptive_mode: boolean; max_concurrent: number | null }>()

  /** Resolves when instance `i` has logged that it follows another instance's change to a key's mode. */
  function followed(i: number): Promise<void> {
    const log = logs[i] as LogCapture
    const seen = () => log.entries().filter((l) => String(l.msg).startsWith("a key's concurrency mode changed on another instance")).length
    const before = seen()
    return new Promise((resolve) => {
      const check = (): void => {
        if (seen() === before) return
        log.off('lines', check)
        resolve()
      }
      log.on('lines', check)
    })
  }

  it('fixed at 3 through the first, the second follows within a second; learning again through the second, the first follows', async () => {
    const [a, b] = gws as [Gateway, Gateway]
    expect(await stats(b)).toMatchObject({ adaptive_mode: true, max_concurrent: null })
    const bFollows = followed(1)
    const fixed = await send(a.url, '/api/admin/adaptive/keys/sim~mode/mode', { method: 'PATCH', headers: admin, body: { enabled: false, fixed_limit: 3 } })
    expect(fixed.status).toBe(200)
    await within(bFollows, 1_000, 'the second instance to follow')
    expect(await stats(b)).toMatchObject({ adaptive_mode: false, max_concurrent: 3 })

    const aFollows = followed(0)
    expect((await send(b.url, '/api/admin/adaptive/keys/sim~mode/mode', { method: 'PATCH', headers: admin, body: { enabled: true } })).status).toBe(200)
    await within(aFollows, 1_000, 'the first instance to follow')
    expect(await stats(a)).toMatchObject({ adaptive_mode: true, max_concurrent: null })
  })
})
