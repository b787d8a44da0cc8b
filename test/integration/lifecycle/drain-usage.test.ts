import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from 'undici'
import { afterAll, describe, expect, it } from 'vitest'
import { openStore } from '../../../src/store/open.js'
import { startStack } from '../../support/harness.js'

// A request refused while the gateway drains has a caller like any other refusal, and so a
// usage record: the refusal waits until auth has said who is calling.

describe('shutdown: refusals while draining are on the ledger', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-drain-usage-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('503 shutting_down during the drain gets a usage record with the status', async () => {
    const database = `sqlite:${join(dir, 'sluice.db')}`
    const stack = await startStack({
      gateway: (simUrl) => ({
        database,
        auth: 'off',
        providers: { sim: { type: 'openai', base_url: `${simUrl}/v1`, keys: [{ id: 'k1', key: 'sk-sim-test-1' }] } },
        models: { 'test-model': { targets: [{ provider: 'sim', model: 'sim-model' }] } },
      }),
    })
    const body = (stream: boolean) => JSON.stringify({ model: 'test-model', stream, messages: [{ role: 'user', content: 'hi' }] })
    // One stream in flight holds the drain open while the late request arrives.
    stack.sim.script([{ kind: 'slow_chunks', interval_ms: 30, chunks: 10 }])
    const inFlight = await request(`${stack.gw.url}/v1/chat/completions`, { method: 'POST', body: body(true), headers: { 'content-type': 'application/json' } })
    const stopping = stack.gw.shutdown()
    const late = await request(`${stack.gw.url}/v1/chat/completions`, { method: 'POST', body: body(false), headers: { 'content-type': 'application/json', 'x-request-id': 'late-1' } })
    expect(late.statusCode).toBe(503)
    expect(((await late.body.json()) as { error: { code: string } }).error.code).toBe('shutting_down')
    await inFlight.body.text()
    expect(await stopping).toBe(true)
    await stack.sim.close()

    const store = await openStore(database)
    try {
      const { records } = await store.usage.query({ limit: 100, offset: 0 })
      const refused = records.find((r) => r.requestId === 'late-1')
      expect(refused).toMatchObject({ consumerId: 'anonymous', status: 503, outcome: 'rejected' })
    } finally {
      await store.close()
    }
  })
})
