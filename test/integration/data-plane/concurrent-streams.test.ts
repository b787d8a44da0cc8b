import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { defaultGatewayConfig } from '../../support/harness.js'
import { gatewayStatus, sha256, startWatchedStack, type WatchedStack } from '../../support/data-plane.js'

// Many streams at once, each with split multi-byte characters: every one must arrive byte for
// byte, the upstream must see each exactly once, and nothing may stay in flight afterwards.

const streams = 200

describe(`data plane: ${streams} concurrent streams`, () => {
  let stack: WatchedStack
  beforeAll(async () => {
    // The key's concurrency limit is fixed at the stream count: this is about the relay carrying
    // them all at once, not about a learned limit queueing them 8 at a time.
    stack = await startWatchedStack({
      sim: { chunk_split_utf8: true },
      gateway: (simUrl) => {
        const config = defaultGatewayConfig(simUrl)
        return { ...config, providers: { sim: { type: 'openai', base_url: `${simUrl}/v1`, keys: [{ id: 'k1', key: 'sk-sim-test-1', max_concurrent: streams }], stream_usage: false } } }
      },
    })
  })
  afterAll(() => stack.close())

  it('all complete, byte-identical to what the simulator sent, and leave nothing in flight', async () => {
    const received = await Promise.all(
      Array.from({ length: streams }, async (_, i) => {
        const res = await request(`${stack.gw.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-request-id': `stream-${i}` },
          body: JSON.stringify({ model: 'test-model', stream: true, max_tokens: 100, messages: [{ role: 'user', content: `stream ${i}` }] }),
        })
        const chunks: Buffer[] = []
        for await (const chunk of res.body) chunks.push(chunk as Buffer)
        return { id: `stream-${i}`, status: res.statusCode, hash: sha256(Buffer.concat(chunks)) }
      }),
    )
    await stack.sim.waitForRequests(streams)
    const sent = new Map(stack.sim.requests().map((r) => [r.headers['x-request-id'], r]))
    expect(sent.size).toBe(streams)
    for (const r of received) {
      expect(r.status).toBe(200)
      expect(sent.get(r.id)?.sha256).toBe(r.hash)
      expect(sent.get(r.id)?.aborted).toBe(false)
    }
    await stack.logs.waitForAccessLog((records) => records.length >= streams)
    expect((await gatewayStatus(stack.gw.url)).requests.in_flight).toBe(0)
    expect(stack.sim.stats().totals.in_flight).toBe(0)
  })
})
