import { execFile } from 'node:child_process'
import { resolve } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startWatchedStack, type WatchedStack } from '../../support/data-plane.js'

// A body declared larger than server.body_limit is refused at once, but the client is still
// sending it: closing the connection then makes the kernel reset it, and most clients saw
// EPIPE instead of the 413. sluice answers, then reads and discards the rest (bounded) before
// it closes, as nginx does, so every client reads its answer. The clients run in their own
// process: one in the gateway's event loop never races the gateway's close.

const bodyLimit = 1024 * 1024
const tries = 20
const client = resolve(import.meta.dirname, '../../support/oversized-client.mjs')

interface Try {
  readonly status?: number
  readonly code?: string | null
  readonly requestId?: string | null
  readonly connection?: string | null
  readonly failure?: string
}

async function run(kind: 'fetch' | 'openai', url: string, size: number): Promise<Try[]> {
  const { stdout } = await promisify(execFile)(process.execPath, [client, kind, url, String(size), String(tries)], { timeout: 60_000 })
  return JSON.parse(stdout) as Try[]
}

describe('data plane: a 413 reaches clients that are still sending', () => {
  let stack: WatchedStack
  beforeAll(async () => {
    stack = await startWatchedStack({
      gateway: (simUrl) => ({
        providers: { sim: { type: 'openai', base_url: `${simUrl}/v1`, keys: [{ id: 'k1', key: 'sk-sim-test-1' }] } },
        models: { 'test-model': { targets: [{ provider: 'sim', model: 'sim-model' }] } },
        server: { body_limit: bodyLimit },
      }),
    })
  })
  afterAll(async () => {
    expect(stack.sim.requests()).toHaveLength(0)
    await stack.close()
  })

  // Far more than loopback's socket buffers take while the gateway answers: without the drain,
  // about half of these tries saw EPIPE.
  const size = bodyLimit * 8

  it(`undici's fetch: ${tries} of ${tries} read the 413 (JSON, x-request-id, Connection: close)`, async () => {
    const seen = await run('fetch', stack.gw.url, size)
    expect(seen.map((t) => t.failure ?? t.status)).toEqual(Array.from({ length: tries }, () => 413))
    for (const t of seen) expect(t).toMatchObject({ code: 'request_too_large', requestId: expect.stringMatching(/.+/), connection: 'close' })
  }, 60_000)

  it(`the official openai client: ${tries} of ${tries} get APIError 413 request_too_large`, async () => {
    const seen = await run('openai', stack.gw.url, size)
    expect(seen.map((t) => t.failure ?? t.status)).toEqual(Array.from({ length: tries }, () => 413))
    for (const t of seen) expect(t).toMatchObject({ code: 'request_too_large', requestId: expect.stringMatching(/.+/) })
  }, 60_000)
})
