import { createServer } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectErrorBody, send, type Reply } from '../../support/data-plane.js'
import { startStack, type Stack } from '../../support/harness.js'
import { adminCaller, adminKey, BreakerWatch, deploymentOf, provider, secretOf, within } from '../../support/failover.js'

// Key health against the simulator (issue 12, item 11): hard evidence — a revoked key's 401, a
// refused connection — takes even the last key of a model out at once; soft failures never take
// out the last key (it stays in, demoted, and clients get the upstream's answer rather than 503
// no_capacity); and a key that really fails, beside two healthy ones, is out within 5 s.

/** A 127.0.0.1 port nothing listens on: bound, then closed again. */
async function deadPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

describe('failover: outlier detection on the simulator', () => {
  let stack: Stack
  let watch: BreakerWatch
  const admin = adminCaller(() => stack.gw.url)

  beforeAll(async () => {
    const dead = await deadPort()
    stack = await startStack({
      sim: {
        keys: {
          [secretOf('revoked')]: { id: 'revoked', revoked: true },
          [secretOf('broken')]: { id: 'broken', error_rate: 1 },
          [secretOf('a')]: { id: 'a' },
          [secretOf('b')]: { id: 'b' },
          [secretOf('c')]: { id: 'c' },
        },
        faults: { error_status: 500 },
        seed: 11,
      },
      gateway: (simUrl) => ({
        admin: { keys: [adminKey] },
        providers: {
          rev: provider(simUrl, [{ id: 'revoked' }]),
          gone: { type: 'openai', base_url: `http://127.0.0.1:${dead}/v1`, keys: [{ id: 'gone', key: secretOf('gone') }] },
          solo: provider(simUrl, [{ id: 'broken' }]),
          trio: provider(simUrl, [{ id: 'a' }, { id: 'b' }, { id: 'c' }]),
        },
        models: {
          revoked: { targets: [{ provider: 'rev', model: 'up-rev' }] },
          gone: { targets: [{ provider: 'gone', model: 'up-gone' }] },
          broken: { targets: [{ provider: 'solo', model: 'up-broken' }] },
          trio: { targets: [{ provider: 'trio', model: 'up-trio' }] },
        },
      }),
    })
    watch = new BreakerWatch(stack.gw)
  })
  afterAll(async () => {
    watch?.close()
    await stack?.close()
  })

  const ask = (model: string, id: string): Promise<Reply> =>
    send(stack.gw.url, '/v1/chat/completions', {
      body: { model, messages: [{ role: 'user', content: 'hello' }], max_tokens: 4 },
      headers: { 'x-request-id': id, authorization: `Bearer caller-${id}` },
    })

  it('a revoked key, the only one of its model: out at its first 401; the next request is refused at once', async () => {
    expect((await ask('revoked', 'rev-1')).status).toBe(502) // the upstream's 401 is about sluice's key, not the client's
    await watch.next('rev~revoked', 'disabled')
    const next = await ask('revoked', 'rev-2')
    expect(next.status).toBe(503)
    expectErrorBody(next.json(), 'no_capacity')
    expect(stack.sim.stats().keys.revoked?.requests).toBe(1)
  })

  it('a refused connection, the only key of its model: out at once; the next request is refused without a second connection attempt', async () => {
    const first = await ask('gone', 'gone-1')
    expect(first.status).toBe(502)
    await watch.next('gone~gone', 'open')
    expect((await deploymentOf(admin, 'gone~gone')).health).toMatchObject({ state: 'open', consecutive_failures: 1, last_failure_kind: 'connect' })
    const next = await ask('gone', 'gone-2')
    expect(next.status).toBe(503)
    expectErrorBody(next.json(), 'no_capacity')
    const logs = await stack.logs.waitForAccessLog((all) => all.some((r) => r.requestId === 'gone-2'))
    expect(logs.find((r) => r.requestId === 'gone-2')).toMatchObject({ status: 503, error: 'no_capacity', attempts: 0 })
  })

  it('a key failing every request, the only one of its model: never out for 5xx, demoted; every client gets the upstream\'s 502, none a 503', async () => {
    for (let i = 0; i < 12; i++) {
      const r = await ask('broken', `broken-${i}`)
      expect(r.status, r.text).toBe(502)
      expectErrorBody(r.json(), 'upstream_error')
    }
    expect(stack.sim.stats().keys.broken?.requests).toBe(12)
    expect(watch.statesOf('solo~broken')).toEqual([])
    const row = await deploymentOf(admin, 'solo~broken')
    expect(row.health).toMatchObject({ state: 'closed', consecutive_failures: 12, last_failure_kind: 'http_5xx', times_opened: 0 })
    expect(Date.parse(row.health.demoted_until ?? '')).toBeGreaterThan(Date.now())
  })

  it('one of three keys starts failing half its requests under load: out within 5 s, the other two stay in, no client sees an error', async () => {
    // Warm up on three healthy keys, then c turns bad.
    const statuses: number[] = []
    let n = 0
    const load = async (until: () => boolean): Promise<void> => {
      const worker = async (): Promise<void> => {
        while (!until()) statuses.push((await ask('trio', `trio-${n++}`)).status)
      }
      await Promise.all(Array.from({ length: 6 }, worker))
    }
    await load(() => n >= 60)
    expect(watch.statesOf('trio~c')).toEqual([])
    stack.sim.configure({ keys: { [secretOf('c')]: { error_rate: 0.5 } } })
    const badFrom = performance.now()
    const mark = watch.mark
    let out = false
    const opened = watch.next('trio~c', 'open', mark, 5_000).then((e) => {
      out = true
      return e
    })
    // Bounded: the load stops when c is out or after 5 s.
    await Promise.all([load(() => out || performance.now() - badFrom > 5_000), opened.catch(() => undefined)])
    const event = await within(opened, 1, 'c to be out')
    expect(event.at - badFrom).toBeLessThanOrEqual(5_000)
    expect(stack.sim.stats().keys.c?.errors).toBeGreaterThan(0)
    expect(watch.statesOf('trio~a')).toEqual([])
    expect(watch.statesOf('trio~b')).toEqual([])
    expect(statuses.filter((s) => s !== 200)).toEqual([])
  })
})
