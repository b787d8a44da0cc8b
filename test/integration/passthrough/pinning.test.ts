import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startGateway, type Gateway } from '../../../src/main.js'
import { createLogger } from '../../../src/telemetry/logger.js'
import { LogCapture } from '../../support/harness.js'
import { send } from '../../support/data-plane.js'

// Files, batches and stored responses live in the account of the key that created them: a
// request that names one must reach that key, or fail clearly — never another account.

const keys = { k1: 'sk-pin-one-0123456789', k2: 'sk-pin-two-0123456789' }
const adminKey = 'admin-key-for-pinning-tests'

describe('passthrough: requests naming a file, batch or response stay on its key', () => {
  let upstream: Server
  let gw: Gateway
  /** The bearer of every request the upstream saw, by path. */
  const seen: { path: string; key: string }[] = []
  let created = 0

  beforeAll(async () => {
    upstream = createServer((req: IncomingMessage, res) => {
      const key = String(req.headers.authorization ?? '').replace('Bearer ', '')
      seen.push({ path: req.url ?? '', key })
      req.resume()
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' })
        if (req.method === 'POST' && (req.url === '/v1/files' || req.url === '/v1/responses')) {
          const id = req.url === '/v1/files' ? `file-${++created}` : `resp_${++created}`
          res.end(JSON.stringify({ id, object: req.url === '/v1/files' ? 'file' : 'response' }))
        } else {
          res.end('{"ok":true}')
        }
      })
    })
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve))
    const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1`
    gw = await startGateway({
      config: {
        value: {
          providers: { up: { type: 'openai', base_url: url, keys: [{ id: 'k1', key: keys.k1 }, { id: 'k2', key: keys.k2 }] } },
          passthrough: { provider: 'up' },
          admin: { keys: [adminKey] },
        },
        label: 'test',
      },
      logger: createLogger({ level: 'info', destination: new LogCapture() }),
      port: 0,
      processMetrics: false,
      database: 'sqlite::memory:',
    })
  })
  afterAll(async () => {
    await gw.shutdown()
    await new Promise<void>((resolve) => upstream.close(() => resolve()))
  })

  const admin = (path: string) => send(gw.url, path, { method: 'POST', headers: { authorization: `Bearer ${adminKey}` } })

  it('reads of a created file, and a response chained to an earlier one, go to the creating key', async () => {
    const ids: string[] = []
    for (let i = 0; i < 4; i++) {
      const res = await send(gw.url, '/v1/files', { body: { purpose: 'batch' } })
      expect(res.status).toBe(200)
      ids.push((res.json() as { id: string }).id)
    }
    const creators = new Map(ids.map((id, i) => [id, seen.filter((s) => s.path === '/v1/files')[i]?.key]))
    expect(new Set(creators.values())).toEqual(new Set([keys.k1, keys.k2])) // round-robin when nothing is named
    for (const id of ids) {
      for (let j = 0; j < 3; j++) {
        const before = seen.length
        expect((await send(gw.url, `/v1/files/${id}/content`, { method: 'GET' })).status).toBe(200)
        expect(seen[before]?.key).toBe(creators.get(id))
      }
    }
    const first = await send(gw.url, '/v1/responses', { body: { model: 'gpt-4o', input: 'hi' } })
    const responseId = (first.json() as { id: string }).id
    const creator = seen.at(-1)?.key
    for (let j = 0; j < 3; j++) {
      await send(gw.url, '/v1/responses', { body: { model: 'gpt-4o', input: 'more', previous_response_id: responseId } })
      expect(seen.at(-1)?.key).toBe(creator)
    }
  })

  it('when the creating key is out, a request naming its object fails clearly instead of going to another account', async () => {
    const res = await send(gw.url, '/v1/files', { body: { purpose: 'batch' } })
    const id = (res.json() as { id: string }).id
    const creator = seen.at(-1)?.key === keys.k1 ? 'k1' : 'k2'
    expect((await admin(`/api/admin/deployments/up~${creator}/disable`)).status).toBe(200)
    const before = seen.length
    const refused = await send(gw.url, `/v1/files/${id}`, { method: 'GET' })
    expect(refused.status).toBe(503)
    expect((refused.json() as { error: { code: string; message: string } }).error.code).toBe('pinned_key_unavailable')
    expect(refused.text).not.toContain(keys.k1)
    expect(refused.text).not.toContain(keys.k2)
    expect(seen.length).toBe(before)
    // Unpinned traffic avoids the disabled key.
    for (let i = 0; i < 4; i++) await send(gw.url, '/v1/models/other', { method: 'GET' })
    expect(seen.slice(before).every((s) => s.key !== keys[creator])).toBe(true)
    expect((await admin(`/api/admin/deployments/up~${creator}/enable`)).status).toBe(200)
    expect((await send(gw.url, `/v1/files/${id}`, { method: 'GET' })).status).toBe(200)
    expect(seen.at(-1)?.key).toBe(keys[creator])
  })
})
