import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RequestRecord, Simulator, SimulatorStats } from '../../../src/simulator/index.js'
import { bearer, chatBody, send, start } from './helpers.js'

let sim: Simulator
beforeAll(async () => { sim = await start() })
afterAll(() => sim.close())

describe('control endpoint /__sim/*', () => {
  it('configures, scripts, reports and resets like the in-process API', async () => {
    expect((await send(sim, '/__sim/config', { body: { keys: { 'sk-ctl': { rpm: 1 } } } })).status).toBe(200)
    expect((await send(sim, '/__sim/script', { body: [{ kind: 'error', status: 502 }] })).json()).toEqual({ ok: true, queued: 1 })
    expect((await send(sim, '/v1/chat/completions', { headers: bearer('sk-ctl'), body: chatBody() })).status).toBe(502)
    expect((await send(sim, '/v1/chat/completions', { headers: bearer('sk-ctl'), body: chatBody() })).status).toBe(200)
    expect((await send(sim, '/v1/chat/completions', { headers: bearer('sk-ctl'), body: chatBody() })).status).toBe(429)
    await sim.waitForRequests(3)

    const stats = (await send(sim, '/__sim/stats')).json() as SimulatorStats
    expect(stats.keys['sk-ctl']).toMatchObject({ requests: 3, ok: 1, errors: 1, rate_limited: { rpm: 1 } })
    const records = (await send(sim, '/__sim/requests')).json() as RequestRecord[]
    expect(records.map((r) => r.status)).toEqual([502, 200, 429])
    // Control calls are not recorded as upstream traffic.
    expect(records.every((r) => !r.path.startsWith('/__sim'))).toBe(true)

    expect((await send(sim, '/__sim/reset', { method: 'POST' })).status).toBe(200)
    expect(sim.requests()).toHaveLength(0)
    expect((await send(sim, '/v1/chat/completions', { headers: bearer('sk-ctl'), body: chatBody() })).status).toBe(200)
  })

  it('refuses an invalid patch with the path of the problem and keeps the old config', async () => {
    const r = await send(sim, '/__sim/config', { body: { keys: { 'sk-ctl': { rpm: -1 } } } })
    expect(r.status).toBe(400)
    expect((r.json() as { error: { message: string } }).error.message).toContain('keys.sk-ctl.rpm')
    const notJson = await send(sim, '/__sim/script', { body: 'nope' })
    expect(notJson.status).toBe(400)
    expect((await send(sim, '/__sim/nothing')).status).toBe(404)
  })
})
