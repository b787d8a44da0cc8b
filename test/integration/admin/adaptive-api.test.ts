import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SluiceConfigInput } from '../../../src/config/schema.js'
import type { Gateway } from '../../../src/main.js'
import { startSimulator, type Simulator } from '../../../src/simulator/index.js'
import { openStore } from '../../../src/store/open.js'
import type { KeyLearning, LimitAdjustment } from '../../../src/store/types.js'
import type { Reply } from '../../support/data-plane.js'
import { startStack, type LogCapture, type Stack } from '../../support/harness.js'
import { chat, RequestWatch, scheduleStatus, upstreamHas } from '../../support/schedule.js'
import {
  adminClient, adminKey, expectError, keyId, keyValue, layoutConfig, layoutSimConfig, learningPath, limitPath, modePath, okJson,
  pristineRow, provokeConcurrency429s, startAdminGateway, statsPath, upstreamConcurrency429s,
  type Adjustment, type KeyRow, type KeyStats, type Layout, type Summary,
} from './support.js'

// The contract of /api/admin/adaptive/*: the key check before anything else, every route's
// exact JSON, every refusal with its code and param, and that a change reaches the data plane
// on the very next request. Each provider serves one purpose, so the tests of this file, which
// share one gateway, never share a key.

const layout: Layout = {
  list: { adaptive: {}, fixed5: { maxConcurrent: 5 } },
  other: { solo: {} },
  codes: { k: {} },
  fix: { k: {} },
  wipe: { k: { simCap: 2 } },
  cap: { k: { simCap: 2 } },
}

/** Every key of `layout` as the list shows it before anything happened, in config order. */
const pristineRows = (l: Layout): KeyRow[] =>
  Object.entries(l).flatMap(([p, keys]) => Object.entries(keys).map(([k, spec]) => pristineRow(p, k, spec.maxConcurrent ?? null)))

const pristineStats = (fixed: number | null = null): KeyStats => ({
  adaptive_mode: fixed === null,
  max_concurrent: fixed,
  effective_limit: fixed ?? 8,
  learned_limit: 8,
  concurrent_429_count: 0,
  rpm_429_count: 0,
  tpm_429_count: 0,
  last_429_at: null,
  last_429_type: null,
  in_flight: 0,
  adjustment_count: 0,
  recent_adjustments: [],
})

/** Fields of the stats answer: the issue's list, plus tpm_429_count and in_flight, which sluice adds. */
const statsFields = [
  'adaptive_mode', 'adjustment_count', 'concurrent_429_count', 'effective_limit', 'in_flight', 'last_429_at', 'last_429_type',
  'learned_limit', 'max_concurrent', 'recent_adjustments', 'rpm_429_count', 'tpm_429_count',
]

const wrongKeys = ['adm-wrong-0000000000000000', `${adminKey}x`, adminKey.slice(0, -1)]
const rotatedAdminKey = 'adm-next-91c3e5a7f0d2b4689'

/** Every reply of the main stack and the stacks beside it, for the leak scan at the end. */
const replies: Reply[] = []
const scannedLogs: LogCapture[] = []

describe('admin API: adaptive concurrency', () => {
  let stack: Stack
  const admin = adminClient(() => stack.gw.url, replies)
  const stats = async (id: string): Promise<KeyStats> => okJson<KeyStats>(await admin(statsPath(id)))
  const rows = async (query = ''): Promise<KeyRow[]> => okJson<KeyRow[]>(await admin(`/api/admin/adaptive/keys${query}`))

  beforeAll(async () => {
    stack = await startStack({ sim: layoutSimConfig(layout), gateway: (simUrl) => layoutConfig(simUrl, layout) })
    scannedLogs.push(stack.logs)
  })
  afterAll(() => stack?.close())

  describe('the admin key comes first', () => {
    const cases: { what: string; authorization: string | null; status: number; code: string }[] = [
      { what: 'no Authorization', authorization: null, status: 401, code: 'missing_admin_key' },
      { what: 'a Basic scheme', authorization: `Basic ${Buffer.from(`admin:${adminKey}`).toString('base64')}`, status: 401, code: 'missing_admin_key' },
      { what: 'a Token scheme with the right key', authorization: `Token ${adminKey}`, status: 401, code: 'missing_admin_key' },
      { what: 'the key without a scheme', authorization: adminKey, status: 401, code: 'missing_admin_key' },
      { what: 'Bearer without a key', authorization: 'Bearer', status: 401, code: 'missing_admin_key' },
      ...wrongKeys.map((k) => ({ what: `a wrong key ${k.slice(0, 12)}…`, authorization: `Bearer ${k}`, status: 403, code: 'invalid_admin_key' })),
      { what: 'an upstream key', authorization: `Bearer ${keyValue('codes', 'k')}`, status: 403, code: 'invalid_admin_key' },
    ]
    for (const c of cases) {
      it(`${c.what} → ${c.status} ${c.code}`, async () => {
        expectError(await admin('/api/admin/adaptive/summary', { authorization: c.authorization }), c.status, c.code)
      })
    }

    it('the scheme is case-insensitive: "bearer <key>" is accepted', async () => {
      okJson(await admin('/api/admin/adaptive/summary', { authorization: `bearer ${adminKey}` }))
    })

    // An unauthenticated caller must not learn which routes, methods or keys exist.
    const probes: { what: string; method: 'GET' | 'POST' | 'PATCH' | 'DELETE'; path: string; body?: unknown }[] = [
      { what: 'an unknown admin path', method: 'GET', path: '/api/admin/nope' },
      { what: 'a wrong method on a known path', method: 'POST', path: '/api/admin/adaptive/summary' },
      { what: 'an unknown key id', method: 'GET', path: statsPath('nope~nope') },
      { what: 'an invalid body', method: 'PATCH', path: modePath(keyId('codes', 'k')), body: '{"enabled": fal' },
      { what: 'an invalid limit', method: 'PATCH', path: limitPath(keyId('codes', 'k'), 'abc') },
    ]
    for (const p of probes) {
      it(`${p.what}: 401 without a key, 403 with a wrong one`, async () => {
        expectError(await admin(p.path, { method: p.method, body: p.body, authorization: null }), 401, 'missing_admin_key')
        expectError(await admin(p.path, { method: p.method, body: p.body, authorization: `Bearer ${wrongKeys[0]}` }), 403, 'invalid_admin_key')
      })
    }

    it('a refused PATCH is logged with its status, and changed nothing', async () => {
      const id = keyId('codes', 'k')
      expectError(await admin(limitPath(id, '3'), { method: 'PATCH', authorization: null }), 401, 'missing_admin_key')
      const lines = stack.logs.entries().filter((e) => e.msg === 'admin' && e.path === limitPath(id))
      expect(lines.map((e) => [e.method, e.status])).toContainEqual(['PATCH', 401])
      expect(await stats(id)).toEqual(pristineStats())
    })
  })

  describe('routes', () => {
    it('404 not_found for an unknown admin path, with the key', async () => {
      for (const path of ['/api/admin/nope', '/api/admin/adaptive', '/api/admin/adaptive/keys/codes~k', '/api/admin/adaptive/keys/codes~k/nope', '/api/admin/adaptive/summary/x']) {
        expectError(await admin(path), 404, 'not_found')
      }
    })

    it('405 method_not_allowed for a wrong method on a known path', async () => {
      const id = keyId('codes', 'k')
      const cases: ['GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', string][] = [
        ['POST', '/api/admin/adaptive/summary'],
        ['DELETE', '/api/admin/adaptive/keys'],
        ['GET', modePath(id)],
        ['PUT', modePath(id)],
        ['POST', statsPath(id)],
        ['GET', learningPath(id)],
        ['GET', limitPath(id, '5')],
        ['POST', limitPath(id, '5')],
      ]
      for (const [method, path] of cases) expectError(await admin(path, { method }), 405, 'method_not_allowed')
      expect(await stats(id)).toEqual(pristineStats())
    })

    it('404 key_not_found for an unknown key id on every key route', async () => {
      for (const id of ['nope~k', 'codes~nope', 'codes', 'k', 'codes~k~k', 'CODES~K']) {
        const calls: Promise<Reply>[] = [
          admin(statsPath(id)),
          admin(modePath(id), { method: 'PATCH', body: { enabled: false, fixed_limit: 3 } }),
          admin(learningPath(id), { method: 'DELETE' }),
          admin(limitPath(id, '3'), { method: 'PATCH' }),
        ]
        for (const reply of await Promise.all(calls)) {
          const error = expectError(reply, 404, 'key_not_found')
          expect(error.message).toContain(id)
        }
      }
      expect(await stats(keyId('codes', 'k'))).toEqual(pristineStats())
    })
  })

  describe('reads', () => {
    it('GET keys lists every key in config order, with exactly the issue\'s fields', async () => {
      const all = await rows()
      expect(all).toEqual(pristineRows(layout))
      for (const row of all) expect(Object.keys(row).sort()).toEqual(Object.keys(pristineRow('a', 'b')).sort())
    })

    it('GET keys?endpoint_id= keeps that provider\'s keys only', async () => {
      expect(await rows('?endpoint_id=list')).toEqual([pristineRow('list', 'adaptive'), pristineRow('list', 'fixed5', 5)])
      expect(await rows('?endpoint_id=other')).toEqual([pristineRow('other', 'solo')])
      expect(await rows('?endpoint_id=nope')).toEqual([])
      expect(await rows('?endpoint_id=list~adaptive')).toEqual([])
    })

    it('GET stats of an untouched key, adaptive and fixed by the config', async () => {
      const adaptive = await stats(keyId('list', 'adaptive'))
      expect(Object.keys(adaptive).sort()).toEqual(statsFields)
      expect(adaptive).toEqual(pristineStats())
      expect(await stats(keyId('list', 'fixed5'))).toEqual(pristineStats(5))
    })

    it('a percent-encoded key id names the same key', async () => {
      expect(okJson(await admin('/api/admin/adaptive/keys/list%7Efixed5/stats'))).toEqual(pristineStats(5))
    })

    it('GET summary before any 429', async () => {
      const summary = okJson<Summary>(await admin('/api/admin/adaptive/summary'))
      expect(summary).toEqual({
        total_adaptive_keys: pristineRows(layout).filter((r) => r.is_adaptive).length,
        total_concurrent_429_errors: 0,
        total_rpm_429_errors: 0,
        total_adjustments: 0,
        recent_adjustments: [],
      })
    })
  })

  describe('changing the mode and the limit', () => {
    const id = keyId('codes', 'k')

    it('PATCH mode {enabled:false, fixed_limit} fixes the key; the list and the stats agree; the change is logged', async () => {
      const reply = await admin(modePath(id), { method: 'PATCH', body: { enabled: false, fixed_limit: 3 } })
      expect(okJson(reply)).toEqual({ message: 'fixed mode at 3 concurrent requests', key_id: id, is_adaptive: false, max_concurrent: 3, effective_limit: 3 })
      expect(await rows('?endpoint_id=codes')).toEqual([{ ...pristineRow('codes', 'k'), is_adaptive: false, max_concurrent: 3, effective_limit: 3 }])
      expect(await stats(id)).toEqual(pristineStats(3))
      const line = stack.logs.entries().find((e) => e.msg === 'admin' && e.requestId === reply.headers['x-request-id'])
      expect(line).toMatchObject({ method: 'PATCH', path: modePath(id), status: 200 })
    })

    it('fixed_limit 1 and 100 are accepted', async () => {
      for (const n of [1, 100]) {
        const body = okJson(await admin(modePath(id), { method: 'PATCH', body: { enabled: false, fixed_limit: n } }))
        expect(body).toEqual({ message: `fixed mode at ${n} concurrent requests`, key_id: id, is_adaptive: false, max_concurrent: n, effective_limit: n })
      }
    })

    it('PATCH mode {enabled:true} makes it adaptive again, at what it learned (8, nothing yet)', async () => {
      const body = okJson(await admin(modePath(id), { method: 'PATCH', body: { enabled: true } }))
      expect(body).toEqual({ message: 'adaptive mode enabled', key_id: id, is_adaptive: true, max_concurrent: null, effective_limit: 8 })
      expect(await stats(id)).toEqual(pristineStats())
    })

    it('PATCH limit?limit=N fixes the key and says what the mode was', async () => {
      const first = okJson(await admin(limitPath(id, '7'), { method: 'PATCH' }))
      expect(first).toEqual({ message: 'fixed mode at 7 concurrent requests', key_id: id, is_adaptive: false, max_concurrent: 7, effective_limit: 7, previous_mode: 'adaptive' })
      const second = okJson(await admin(limitPath(id, '100'), { method: 'PATCH' }))
      expect(second).toEqual({ message: 'fixed mode at 100 concurrent requests', key_id: id, is_adaptive: false, max_concurrent: 100, effective_limit: 100, previous_mode: 'fixed' })
      const third = okJson(await admin(limitPath(id, '1'), { method: 'PATCH' }))
      expect(third).toMatchObject({ max_concurrent: 1, effective_limit: 1, previous_mode: 'fixed' })
      expect(await stats(id)).toEqual(pristineStats(1))
    })

    it('a key fixed by the config file can be made adaptive, and fixed again', async () => {
      const fixed5 = keyId('list', 'fixed5')
      expect(okJson(await admin(modePath(fixed5), { method: 'PATCH', body: { enabled: true } }))).toEqual({
        message: 'adaptive mode enabled', key_id: fixed5, is_adaptive: true, max_concurrent: null, effective_limit: 8,
      })
      expect(await stats(fixed5)).toEqual(pristineStats())
      expect(okJson(await admin(modePath(fixed5), { method: 'PATCH', body: { enabled: false, fixed_limit: 5 } }))).toMatchObject({ is_adaptive: false, max_concurrent: 5 })
      expect(await rows('?endpoint_id=list')).toEqual([pristineRow('list', 'adaptive'), pristineRow('list', 'fixed5', 5)])
    })
  })

  describe('refusals of bad values: 400 with the field as param', () => {
    const id = keyId('codes', 'k')
    let before: KeyStats
    beforeAll(async () => {
      before = await stats(id)
    })

    const bodies: { what: string; body: unknown; param: string }[] = [
      { what: 'no body', body: undefined, param: 'enabled' },
      { what: 'an empty object', body: {}, param: 'enabled' },
      { what: 'enabled "false" (a string)', body: { enabled: 'false', fixed_limit: 5 }, param: 'enabled' },
      { what: 'enabled 0', body: { enabled: 0, fixed_limit: 5 }, param: 'enabled' },
      { what: 'enabled null', body: { enabled: null }, param: 'enabled' },
      { what: 'enabled:false without fixed_limit', body: { enabled: false }, param: 'fixed_limit' },
      { what: 'enabled:false with fixed_limit null', body: { enabled: false, fixed_limit: null }, param: 'fixed_limit' },
      { what: 'fixed_limit 0', body: { enabled: false, fixed_limit: 0 }, param: 'fixed_limit' },
      { what: 'fixed_limit 101', body: { enabled: false, fixed_limit: 101 }, param: 'fixed_limit' },
      { what: 'fixed_limit 2.5', body: { enabled: false, fixed_limit: 2.5 }, param: 'fixed_limit' },
      { what: 'fixed_limit "5"', body: { enabled: false, fixed_limit: '5' }, param: 'fixed_limit' },
      { what: 'fixed_limit -1', body: { enabled: false, fixed_limit: -1 }, param: 'fixed_limit' },
      { what: 'fixed_limit true', body: { enabled: false, fixed_limit: true }, param: 'fixed_limit' },
    ]
    for (const c of bodies) {
      it(`PATCH mode with ${c.what} → invalid_field, param ${c.param}`, async () => {
        const error = expectError(await admin(modePath(id), { method: 'PATCH', body: c.body }), 400, 'invalid_field', c.param)
        expect(error.message).toContain(c.param)
      })
    }

    // As on the data plane, a body that is JSON but not an object is invalid_json.
    for (const body of ['[{"enabled":false,"fixed_limit":5}]', '"enabled"', 'null']) {
      it(`PATCH mode with the JSON ${body} → 400 invalid_json`, async () => {
        const error = expectError(await admin(modePath(id), { method: 'PATCH', body }), 400, 'invalid_json')
        expect(error.message).toMatch(/JSON object/)
      })
    }

    it('PATCH mode with a body that is not JSON → 400 invalid_json', async () => {
      const error = expectError(await admin(modePath(id), { method: 'PATCH', body: '{"enabled": fal' }), 400, 'invalid_json')
      expect(error.message).toMatch(/JSON/)
    })

    const limits: { what: string; query: string | undefined }[] = [
      { what: 'missing', query: undefined },
      { what: 'empty', query: '' },
      { what: '0', query: '0' },
      { what: '101', query: '101' },
      { what: 'abc', query: 'abc' },
      { what: '1.5', query: '1.5' },
      { what: '-1', query: '-1' },
      { what: '1e1', query: '1e1' },
    ]
    for (const c of limits) {
      it(`PATCH limit with limit ${c.what} → invalid_field, param limit`, async () => {
        const error = expectError(await admin(limitPath(id, c.query), { method: 'PATCH' }), 400, 'invalid_field', 'limit')
        expect(error.message).toContain('limit')
      })
    }

    it('nothing changed', async () => {
      expect(await stats(id)).toEqual(before)
    })
  })

  describe('a change applies to the next request', () => {
    const id = keyId('fix', 'k')
    const simStats = () => stack.sim.stats().keys['fix.k']

    it('fixed at 1: three concurrent requests reach the upstream one at a time', async () => {
      expect(okJson(await admin(modePath(id), { method: 'PATCH', body: { enabled: false, fixed_limit: 1 } }))).toMatchObject({ effective_limit: 1 })
      stack.sim.script([1, 2, 3].map(() => ({ kind: 'stall_before_headers' as const, ms: 80, match: { model: 'up-fix' } })))
      const results = await Promise.all(['fix-a', 'fix-b', 'fix-c'].map((rid) => chat(stack.gw.url, { model: 'fix', id: rid })))
      expect(results.map((r) => r.status)).toEqual([200, 200, 200])
      await upstreamHas(stack, ['fix-a', 'fix-b', 'fix-c'])
      expect(simStats()).toMatchObject({ requests: 3, ok: 3, max_concurrency_seen: 1 })
    })

    it('requests waiting for the one permit go as soon as the key is made adaptive', async () => {
      const upstream = new RequestWatch(stack.sim.port, 'start')
      const gateway = new RequestWatch(stack.gw.port, 'end')
      try {
        // The first holds the only permit until long after the test has its answer.
        stack.sim.script([{ kind: 'stall_before_headers', ms: 2_000, match: { model: 'up-fix' } }])
        let firstDone = false
        const first = chat(stack.gw.url, { model: 'fix', id: 'fix-d' }).then((r) => {
          firstDone = true
          return r
        })
        await upstream.count(1)
        const rest = ['fix-e', 'fix-f'].map((rid) => chat(stack.gw.url, { model: 'fix', id: rid }))
        await gateway.count(3)
        expect((await scheduleStatus(stack.gw.url)).queues.fix?.waiting).toBe(2)

        const mode = okJson(await admin(modePath(id), { method: 'PATCH', body: { enabled: true } }))
        expect(mode).toEqual({ message: 'adaptive mode enabled', key_id: id, is_adaptive: true, max_concurrent: null, effective_limit: 8 })
        const answers = await Promise.all(rest)
        expect(answers.map((r) => r.status)).toEqual([200, 200])
        expect(firstDone).toBe(false)
        expect(upstream.ids[0]).toBe('fix-d')
        expect([...upstream.ids].sort()).toEqual(['fix-d', 'fix-e', 'fix-f'])
        expect((await first).status).toBe(200)
      } finally {
        upstream.close()
        gateway.close()
      }
    })

    it('adaptive again: three concurrent requests are in flight upstream together', async () => {
      stack.sim.script([1, 2, 3].map(() => ({ kind: 'stall_before_headers' as const, ms: 400, match: { model: 'up-fix' } })))
      const results = await Promise.all(['fix-g', 'fix-h', 'fix-i'].map((rid) => chat(stack.gw.url, { model: 'fix', id: rid })))
      expect(results.map((r) => r.status)).toEqual([200, 200, 200])
      await upstreamHas(stack, ['fix-g', 'fix-h', 'fix-i'])
      const records = stack.sim.requests().filter((r) => ['fix-g', 'fix-h', 'fix-i'].includes(r.headers['x-request-id'] ?? ''))
      expect(records).toHaveLength(3)
      // All three were at the upstream at once: the last one started before the first one ended.
      expect(Math.max(...records.map((r) => r.started_at))).toBeLessThan(Math.min(...records.map((r) => r.ended_at)))
      expect(await stats(id)).toEqual(pristineStats())
    })
  })

  describe('learning from concurrency 429s', () => {
    it('the key learns; DELETE learning clears the learned limit, counters and history, and keeps a fixed mode', async () => {
      const id = keyId('wipe', 'k')
      await provokeConcurrency429s(stack.gw.url, stack.sim, 'wipe')
      const learned = await stats(id)
      const refused = await upstreamConcurrency429s(stack.sim, 'wipe', 20, learned.concurrent_429_count)
      expect(refused).toBeGreaterThan(0)
      expect(learned).toMatchObject({ adaptive_mode: true, max_concurrent: null, concurrent_429_count: refused, rpm_429_count: 0, tpm_429_count: 0, last_429_type: 'concurrent', in_flight: 0 })
      expect(learned.learned_limit).toBeLessThanOrEqual(2)
      expect(learned.effective_limit).toBe(learned.learned_limit)
      expect(new Date(learned.last_429_at ?? '').toISOString()).toBe(learned.last_429_at)
      expect(learned.adjustment_count).toBeGreaterThan(0)
      expect(learned.recent_adjustments).toHaveLength(learned.adjustment_count)
      expect(learned.recent_adjustments[0]).toMatchObject({ old_limit: 8, reason: 'concurrent_429' })
      expect(learned.recent_adjustments.at(-1)?.new_limit).toBe(learned.learned_limit)
      for (const a of learned.recent_adjustments) expect(Object.keys(a).sort()).toEqual(['inflight', 'new_limit', 'old_limit', 'reason', 'timestamp'])
      expect(await rows('?endpoint_id=wipe')).toEqual([
        { ...pristineRow('wipe', 'k'), effective_limit: learned.learned_limit, learned_max_concurrent: learned.learned_limit, concurrent_429_count: refused },
      ])

      expect(okJson(await admin(limitPath(id, '4'), { method: 'PATCH' }))).toMatchObject({ previous_mode: 'adaptive', effective_limit: 4 })
      // Fixing the key keeps what it learned.
      expect(await stats(id)).toEqual({ ...learned, adaptive_mode: false, max_concurrent: 4, effective_limit: 4 })

      const cleared = okJson(await admin(learningPath(id), { method: 'DELETE' }))
      expect(cleared).toEqual({ message: 'learned limit, counters and history cleared', key_id: id, is_adaptive: false, effective_limit: 4 })
      expect(await stats(id)).toEqual(pristineStats(4))
      expect(await rows('?endpoint_id=wipe')).toEqual([{ ...pristineRow('wipe', 'k'), is_adaptive: false, max_concurrent: 4, effective_limit: 4 }])

      // Adaptive again, it starts over from 8.
      expect(okJson(await admin(modePath(id), { method: 'PATCH', body: { enabled: true } }))).toMatchObject({ is_adaptive: true, effective_limit: 8 })
    })

    it('DELETE learning on an adaptive key that learned nothing is harmless', async () => {
      const id = keyId('other', 'solo')
      expect(okJson(await admin(learningPath(id), { method: 'DELETE' }))).toEqual({
        message: 'learned limit, counters and history cleared', key_id: id, is_adaptive: true, effective_limit: 8,
      })
      expect(await stats(id)).toEqual(pristineStats())
    })

    it('the summary adds up every key after a burst against a key capped at 2', async () => {
      const id = keyId('cap', 'k')
      await provokeConcurrency429s(stack.gw.url, stack.sim, 'cap')
      const cap = await stats(id)
      const refused = await upstreamConcurrency429s(stack.sim, 'cap', 20, cap.concurrent_429_count)
      expect(refused).toBeGreaterThan(0)
      expect(cap).toMatchObject({ adaptive_mode: true, concurrent_429_count: refused, last_429_type: 'concurrent' })
      expect(cap.learned_limit).toBeLessThanOrEqual(2)
      expect(cap.adjustment_count).toBeGreaterThan(0)

      const all = await rows()
      const perKey = await Promise.all(all.map(async (r) => ({ id: r.id, stats: await stats(r.id) })))
      const adjustments = perKey.flatMap((k) => k.stats.recent_adjustments.map((a) => ({ ...a, key_id: k.id })))
      const summary = okJson<Summary>(await admin('/api/admin/adaptive/summary'))
      expect(Object.keys(summary).sort()).toEqual(['recent_adjustments', 'total_adaptive_keys', 'total_adjustments', 'total_concurrent_429_errors', 'total_rpm_429_errors'])
      expect(summary.total_adaptive_keys).toBe(all.filter((r) => r.is_adaptive).length)
      expect(summary.total_concurrent_429_errors).toBe(all.reduce((n, r) => n + r.concurrent_429_count, 0))
      expect(summary.total_concurrent_429_errors).toBe(refused) // wipe's were cleared
      expect(summary.total_rpm_429_errors).toBe(0)
      expect(summary.total_adjustments).toBe(perKey.reduce((n, k) => n + k.stats.adjustment_count, 0))
      expect(adjustments.length).toBeLessThanOrEqual(10)
      expect(byTime(summary.recent_adjustments)).toEqual(byTime(adjustments))
      expectNewestFirst(summary.recent_adjustments)
      expect(summary.recent_adjustments.every((a) => a.key_id === id)).toBe(true)
    })
  })

})

describe('admin API with no admin keys configured', () => {
  let stack: Stack
  const admin = adminClient(() => stack.gw.url, replies)
  beforeAll(async () => {
    const small: Layout = { only: { k: {} } }
    stack = await startStack({ sim: layoutSimConfig(small), gateway: (simUrl) => layoutConfig(simUrl, small, { admin: { keys: [] } }) })
    scannedLogs.push(stack.logs)
  })
  afterAll(() => stack?.close())

  it('refuses every request: 403 with any bearer key, 401 without one', async () => {
    for (const key of [adminKey, ...wrongKeys]) {
      expectError(await admin('/api/admin/adaptive/summary', { authorization: `Bearer ${key}` }), 403, 'invalid_admin_key')
      expectError(await admin(limitPath('only~k', '3'), { method: 'PATCH', authorization: `Bearer ${key}` }), 403, 'invalid_admin_key')
    }
    expectError(await admin('/api/admin/adaptive/keys', { authorization: null }), 401, 'missing_admin_key')
    expectError(await admin('/api/admin/nope', { authorization: null }), 401, 'missing_admin_key')
  })
})

describe('admin API across config reloads', () => {
  let sim: Simulator
  let gw: Gateway
  let dir: string
  let file: string
  const admin = adminClient(() => gw.url, replies)
  const small: Layout = { rl: { k: {}, j: { maxConcurrent: 5 } } }
  const write = (cfg: SluiceConfigInput): void => writeFileSync(file, JSON.stringify(cfg))
  const reload = (cfg: SluiceConfigInput): void => {
    write(cfg)
    expect(gw.reload()).toMatchObject({ ok: true })
  }
  const config = (rl: Record<string, number | null>, keys = [adminKey]): SluiceConfigInput =>
    layoutConfig(sim.url, { rl: { k: { maxConcurrent: rl.k ?? null }, j: { maxConcurrent: rl.j ?? null } } }, { admin: { keys } })
  const stats = async (id: string): Promise<KeyStats> => okJson<KeyStats>(await admin(statsPath(id)))

  beforeAll(async () => {
    sim = await startSimulator({ config: layoutSimConfig(small) })
    dir = mkdtempSync(join(tmpdir(), 'sluice-admin-reload-'))
    file = join(dir, 'sluice.json')
    write(config({ k: null, j: 5 }))
    const started = await startAdminGateway({ file }, 'sqlite::memory:')
    gw = started.gw
    scannedLogs.push(started.logs)
  })
  afterAll(async () => {
    await gw?.shutdown()
    await sim?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('an override outlives a reload that leaves the key alone, and yields to one that changes it', async () => {
    okJson(await admin(limitPath('rl~k', '4'), { method: 'PATCH' }))
    okJson(await admin(modePath('rl~j'), { method: 'PATCH', body: { enabled: true } }))

    reload(config({ k: null, j: 5 }))
    expect(await stats('rl~k')).toMatchObject({ adaptive_mode: false, max_concurrent: 4, effective_limit: 4 })
    expect(await stats('rl~j')).toMatchObject({ adaptive_mode: true, max_concurrent: null, effective_limit: 8 })

    reload(config({ k: 9, j: 6 }))
    expect(await stats('rl~k')).toMatchObject({ adaptive_mode: false, max_concurrent: 9, effective_limit: 9 })
    expect(await stats('rl~j')).toMatchObject({ adaptive_mode: false, max_concurrent: 6, effective_limit: 6 })

    // The file changed the key since the admin chose: going back does not bring the choice back.
    reload(config({ k: null, j: 5 }))
    expect(await stats('rl~k')).toMatchObject({ adaptive_mode: true, max_concurrent: null, effective_limit: 8 })
    expect(await stats('rl~j')).toMatchObject({ adaptive_mode: false, max_concurrent: 5, effective_limit: 5 })
  })

  it('a reload rotates the admin keys', async () => {
    const next = rotatedAdminKey
    reload(config({ k: null, j: 5 }, [next]))
    expectError(await admin('/api/admin/adaptive/summary'), 403, 'invalid_admin_key')
    okJson(await admin('/api/admin/adaptive/summary', { authorization: `Bearer ${next}` }))
    reload(config({ k: null, j: 5 }))
    okJson(await admin('/api/admin/adaptive/summary'))
  })
})

describe('summary and stats over a long stored history', () => {
  let sim: Simulator
  let gw: Gateway
  let dir: string
  const admin = adminClient(() => gw.url, replies)
  const base = Date.parse('2025-01-01T00:00:00.000Z')
  const at = (s: number): string => new Date(base + s * 1000).toISOString()
  const adj = (s: number, oldLimit: number, newLimit: number): LimitAdjustment => ({ timestamp: at(s), old_limit: oldLimit, new_limit: newLimit, reason: 'concurrent_429', inflight: oldLimit })
  // a: 25 changes at even seconds 0…48 (only the newest 20 are kept); b: 5 at odd seconds 41…49
  // and then two in the same millisecond (a burst): the newest of all, 3→2 before 2→1.
  const aHistory = Array.from({ length: 25 }, (_, i) => adj(2 * i, 30 - i, 29 - i))
  const bHistory = [...[41, 43, 45, 47, 49].map((s, i) => adj(s, 10 - i, 9 - i)), adj(60, 3, 2), adj(60, 2, 1)]
  const record = (key: string, history: LimitAdjustment[], counts: { c: number; r: number }): KeyLearning => ({
    id: `seed~${key}`, provider: 'seed', key, override: null, learnedLimit: history.at(-1)?.new_limit ?? null, acceptedLevel: 3,
    concurrent429Count: counts.c, rpm429Count: counts.r, tpm429Count: 0, last429At: base, last429Type: 'concurrent', lastProbeAt: null, history,
  })

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-admin-seed-'))
    const url = `sqlite:${join(dir, 'seed.db')}`
    const store = await openStore(url)
    await store.keyLearning.saveAll([
      record('a', aHistory, { c: 7, r: 2 }),
      record('b', bHistory, { c: 4, r: 1 }),
      // Stored by an earlier config; this one does not name it, so it counts nowhere.
      { ...record('gone', [adj(100, 5, 4)], { c: 50, r: 50 }), id: 'seed~gone', key: 'gone' },
    ])
    await store.close()
    const seedLayout: Layout = { seed: { a: {}, b: {} } }
    sim = await startSimulator({ config: layoutSimConfig(seedLayout) })
    const started = await startAdminGateway(layoutConfig(sim.url, seedLayout, { database: url }))
    gw = started.gw
    scannedLogs.push(started.logs)
  })
  afterAll(async () => {
    await gw?.shutdown()
    await sim?.close()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it('stats: the 20 newest changes are kept, the 10 newest shown, oldest first', async () => {
    const a = okJson<KeyStats>(await admin(statsPath('seed~a')))
    expect(a).toMatchObject({ adaptive_mode: true, learned_limit: 5, effective_limit: 5, concurrent_429_count: 7, rpm_429_count: 2, adjustment_count: 20, last_429_at: at(0) })
    expect(a.recent_adjustments).toEqual(aHistory.slice(-10))
  })

  it('summary: totals over the configured keys, and the 10 newest changes of all keys, newest first', async () => {
    const summary = okJson<Summary>(await admin('/api/admin/adaptive/summary'))
    const all = [...aHistory.slice(-20).map((a) => ({ ...a, key_id: 'seed~a' })), ...bHistory.map((b) => ({ ...b, key_id: 'seed~b' }))]
    const newest = [...all].sort((x, y) => y.timestamp.localeCompare(x.timestamp)).slice(0, 10)
    expect(summary).toMatchObject({ total_adaptive_keys: 2, total_concurrent_429_errors: 11, total_rpm_429_errors: 3, total_adjustments: 27 })
    expect(summary.recent_adjustments).toHaveLength(10)
    expect(byTime(summary.recent_adjustments)).toEqual(byTime(newest))
    expectNewestFirst(summary.recent_adjustments)
  })

  it('summary: two changes in the same millisecond are listed newest first too', async () => {
    const summary = okJson<Summary>(await admin('/api/admin/adaptive/summary'))
    expect(summary.recent_adjustments.slice(0, 2)).toEqual([
      { ...adj(60, 2, 1), key_id: 'seed~b' },
      { ...adj(60, 3, 2), key_id: 'seed~b' },
    ])
  })
})


describe('secrets', () => {
  it('no admin reply and no log line of any gateway above holds an upstream key or an admin key', () => {
    expect(replies.length).toBeGreaterThan(50)
    expect(scannedLogs).toHaveLength(4)
    const layouts: Layout[] = [layout, { only: { k: {} } }, { rl: { k: {}, j: {} } }, { seed: { a: {}, b: {} } }]
    const upstreamKeys = layouts.flatMap((l) => Object.entries(l).flatMap(([p, keys]) => Object.keys(keys).map((k) => keyValue(p, k))))
    const secrets = [adminKey, rotatedAdminKey, ...wrongKeys, ...upstreamKeys]
    const leaks: string[] = []
    for (const r of replies) {
      const text = `${JSON.stringify(r.headers)}\n${r.text}`
      for (const s of secrets) if (text.includes(s)) leaks.push(`reply ${r.status} holds ${s}: ${r.text}`)
    }
    for (const logs of scannedLogs) {
      expect(logs.lines.length).toBeGreaterThan(0)
      for (const line of logs.lines) for (const s of secrets) if (line.includes(s)) leaks.push(`log line holds ${s}: ${line}`)
    }
    expect(leaks).toEqual([])
  })
})

/** Adjustments in a canonical order, to compare lists whose order is checked apart. */
function byTime<T extends Adjustment>(list: readonly T[]): T[] {
  return [...list].sort((x, y) => (x.timestamp === y.timestamp ? JSON.stringify(x).localeCompare(JSON.stringify(y)) : x.timestamp.localeCompare(y.timestamp)))
}

function expectNewestFirst(list: readonly Adjustment[]): void {
  for (let i = 1; i < list.length; i++) expect((list[i - 1] as Adjustment).timestamp >= (list[i] as Adjustment).timestamp).toBe(true)
}
