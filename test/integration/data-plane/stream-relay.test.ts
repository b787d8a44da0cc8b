import { request } from 'undici'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { sha256, sseData, startWatchedStack, type WatchedStack } from '../../support/data-plane.js'

// The relay must hand the client exactly the bytes the upstream wrote: no re-encoding, no
// re-chunking artefacts, even when a multi-byte character is split across two upstream writes.

interface Received {
  status: number
  headers: Record<string, string | string[] | undefined>
  bytes: Buffer
  reads: number
}

async function post(stack: WatchedStack, body: unknown): Promise<Received> {
  const res = await request(`${stack.gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  const chunks: Buffer[] = []
  for await (const chunk of res.body) chunks.push(chunk as Buffer)
  return { status: res.statusCode, headers: res.headers, bytes: Buffer.concat(chunks), reads: chunks.length }
}

describe('data plane: byte-identical streaming relay', () => {
  let stack: WatchedStack
  beforeAll(async () => {
    // Byte for byte means sluice adds nothing to the request either: streams are not asked for
    // usage on the client's behalf here (test/integration/data-plane/stream-usage.test.ts is).
    stack = await startWatchedStack({
      gateway: (simUrl) => ({
        providers: { sim: { type: 'openai', base_url: `${simUrl}/v1`, keys: [{ id: 'k1', key: 'sk-sim-test-1' }], stream_usage: false } },
        models: { 'test-model': { targets: [{ provider: 'sim', model: 'sim-model' }] } },
      }),
    })
  })
  afterAll(() => stack.close())
  beforeEach(() => {
    stack.sim.reset()
    stack.sim.configure({ chunk_split_utf8: false })
  })

  const chat = (extra: Record<string, unknown>) => ({ model: 'test-model', messages: [{ role: 'user', content: 'Say something in several languages' }], ...extra })

  async function expectSameBytes(got: Received): Promise<void> {
    await stack.sim.waitForRequests(1)
    const seen = stack.sim.requests()[0]
    expect(seen).toMatchObject({ status: 200, aborted: false })
    expect(got.bytes.length).toBe(seen?.bytes_sent)
    expect(sha256(got.bytes)).toBe(seen?.sha256)
  }

  it('a stream whose multi-byte characters are split across upstream writes arrives byte for byte', async () => {
    stack.sim.configure({ chunk_split_utf8: true })
    const got = await post(stack, chat({ stream: true, max_tokens: 50 }))
    expect(got.status).toBe(200)
    expect(String(got.headers['content-type'])).toContain('text/event-stream')
    // The text really holds multi-byte characters, so a split inside one was possible.
    const text = got.bytes.toString('utf8')
    expect(Buffer.byteLength(text)).toBeGreaterThan(text.length)
    expect(text).not.toContain('\uFFFD')
    expect(sseData(text).at(-1)).toBe('[DONE]')
    await expectSameBytes(got)
  })

  it('a stream of 1,000 chunks arrives byte for byte', async () => {
    const got = await post(stack, chat({ stream: true, max_tokens: 1000 }))
    expect(got.status).toBe(200)
    const events = sseData(got.bytes.toString('utf8'))
    // role preamble + 1,000 tokens + finish event + [DONE]
    expect(events).toHaveLength(1003)
    expect(events.at(-1)).toBe('[DONE]')
    await expectSameBytes(got)
  })

  it('a split 1,000-chunk stream arrives byte for byte', async () => {
    stack.sim.configure({ chunk_split_utf8: true })
    const got = await post(stack, chat({ stream: true, max_tokens: 1000, stream_options: { include_usage: true } }))
    expect(got.status).toBe(200)
    const events = sseData(got.bytes.toString('utf8'))
    expect(events).toHaveLength(1004)
    await expectSameBytes(got)
  })

  it('a non-streamed JSON answer arrives byte for byte', async () => {
    const got = await post(stack, chat({ max_tokens: 200 }))
    expect(got.status).toBe(200)
    await expectSameBytes(got)
  })
})
