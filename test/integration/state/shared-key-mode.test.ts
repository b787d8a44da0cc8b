import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Gateway } from '../../../src/main.js'
import { startSimulator, type Simulator } from '../../../src/simulator/index.js'
import { send } from '../../support/data-plane.js'
import { within } from '../../support/failover.js'
import { LogCapture } from '../../support/harness.js'
import { startInstances, type Instances } from '../../support/instances.js'

// An admin's choice of a key's concurrency mode, made through one instance, is every instance's:
// the other reads it back from the shared database when told (a Redis message), so the key is
// fixed (or learned again) everywhere, and every instance stores the same choice.

const adminKey = 'admin-key-shared-key-mode-0001'
const admin = { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' }

describe('state: redis — a key fixed through one instance is fixed on every instance', () => {
  let sim: Simulator
  let instances: Instances
  let gws: Gateway[]
  const logs = [new LogCapture(), new LogCapture()]

  beforeAll(async () => {
    sim = await startSimulator({ config: { keys: { 'sk-sim-mode': { id: 'mode', headers: 'none' } } } })
    instances = await startInstances(
      2,
      'mode',
      {
        admin: { keys: [adminKey] },
        providers: { sim: { type: 'openai', base_url: `${sim.url}/v1`, keys: [{ id: 'mode', key: 'sk-sim-mode' }] } },
        models: { m: { targets: [{ provider: 'sim', model: 'sim-model' }] } },
      },
      { logs },
    )
    gws = instances.gateways
  }, 30_000)

  afterAll(async () => {
    await instances?.close()
    await sim?.close()
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
