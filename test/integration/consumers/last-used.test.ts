import { afterAll, describe, expect, it } from 'vitest'
import { openStore } from '../../../src/store/open.js'
import { send } from '../../support/data-plane.js'
import { startStack } from '../../support/harness.js'
import { chatBody, makeCaller, sqliteDatabase } from '../../support/consumers.js'

// When a key was last used is kept without a write per request: gathered, and written in one
// statement every few seconds and at shutdown.

describe('consumers: a key records when it was last used', () => {
  const db = sqliteDatabase('last-used')
  afterAll(() => db.drop())

  it('a used key has last_used_at after shutdown; an unused one has none', async () => {
    const stack = await startStack({
      gateway: (simUrl) => ({
        providers: { sim: { type: 'openai', base_url: `${simUrl}/v1`, keys: [{ id: 'k1', key: 'sk-sim-test-1' }] } },
        models: { 'test-model': { targets: [{ provider: 'sim', model: 'sim-model' }] } },
        auth: 'required',
        database: db.url,
      }),
    })
    const used = await makeCaller(stack.gw, 'used', null)
    const idle = await makeCaller(stack.gw, 'idle', null)
    const before = Date.now()
    expect((await send(stack.gw.url, '/v1/chat/completions', { body: chatBody('test-model', 'hi'), headers: used.headers })).status).toBe(200)
    await stack.close()
    const store = await openStore(db.url)
    try {
      const keys = await store.virtualKeys.list()
      const byId = new Map(keys.map((k) => [k.id, k]))
      expect(byId.get(used.key.id)?.lastUsedAt).toBeGreaterThanOrEqual(before)
      expect(byId.get(idle.key.id)?.lastUsedAt).toBeNull()
    } finally {
      await store.close()
    }
  })
})
