import { randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startGateway, type Gateway } from '../../../src/main.js'
import { createLogger } from '../../../src/telemetry/logger.js'
import { redisUrl } from '../../support/cluster.js'
import { postgresDatabase, type TestDatabase } from '../../support/consumers.js'
import { send } from '../../support/data-plane.js'

// Two instances on one Redis: a file created through one is read through the other with the
// key that created it, and a stored response's later reads find their provider on either.

const keys = { k1: 'sk-pin-one-0123456789', k2: 'sk-pin-two-0123456789' }

describe('state: redis — pins of files and responses are shared', () => {
  let upstream: Server
  let db: TestDatabase
  const gws: Gateway[] = []
  const seen: { method: string; path: string; key: string }[] = []
  let created = 0
  let prefix = ''

  beforeAll(async () => {
    upstream = createServer((req: IncomingMessage, res) => {
      seen.push({ method: req.method ?? '', path: req.url ?? '', key: String(req.headers.authorization ?? '').replace('Bearer ', '') })
      req.resume()
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' })
        if (req.method === 'POST' && req.url === '/v1/files') res.end(JSON.stringify({ id: `file-${++created}`, object: 'file' }))
        else res.end('{"ok":true}')
      })
    })
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve))
    const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1`
    db = await postgresDatabase('pins')
    prefix = `sluice-test-pins-${randomBytes(4).toString('hex')}:`
    for (let i = 0; i < 2; i++) {
      gws.push(
        await startGateway({
          config: {
            value: {
              database: db.url,
              state: { url: redisUrl, key_prefix: prefix },
              providers: { up: { type: 'openai', base_url: url, keys: [{ id: 'k1', key: keys.k1 }, { id: 'k2', key: keys.k2 }] } },
              passthrough: { provider: 'up' },
            },
            label: `instance ${i + 1}`,
          },
          logger: createLogger({ level: 'silent' }),
          port: 0,
          processMetrics: false,
          watch: false,
        }),
      )
    }
  })
  afterAll(async () => {
    for (const gw of gws) await gw.shutdown()
    // Pins last 30 days: remove this test's.
    const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 })
    const left = await redis.keys(`${prefix}*`)
    if (left.length > 0) await redis.del(...left)
    redis.disconnect()
    await db?.drop()
    await new Promise<void>((resolve) => upstream.close(() => resolve()))
  })

  it('files created through instance 1 are read through instance 2 with the key that created them', async () => {
    const [one, two] = gws as [Gateway, Gateway]
    const creators = new Map<string, string>()
    for (let i = 0; i < 4; i++) {
      const res = await send(one.url, '/v1/files', { body: { purpose: 'batch' } })
      creators.set((res.json() as { id: string }).id, seen.at(-1)?.key as string)
    }
    expect(new Set(creators.values())).toEqual(new Set([keys.k1, keys.k2]))
    for (const [id, key] of creators) {
      for (let j = 0; j < 2; j++) {
        expect((await send(two.url, `/v1/files/${id}/content`, { method: 'GET' })).status).toBe(200)
        expect(seen.at(-1)).toEqual({ method: 'GET', path: `/v1/files/${id}/content`, key })
      }
    }
  })
})
