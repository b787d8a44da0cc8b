import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Gateway } from '../../../src/main.js'
import { startSimulator, type Simulator } from '../../../src/simulator/index.js'
import { chat, scheduleStatus } from '../../support/schedule.js'
import {
  adminClient, keyId, layoutConfig, layoutSimConfig, limitPath, modePath, okJson, pristineRow, provokeConcurrency429s,
  startAdminGateway, statsPath, upstreamConcurrency429s, type KeyRow, type KeyStats, type Layout, type Summary,
} from './support.js'

// What the adaptive admin API shows must survive a restart, on each database: the limits a
// key learned, its 429 counters and history, and an admin's choice of mode. The config file
// wins over that choice once it says something new about the key, and from then on.

/** Where the Postgres tests run. They fail, never skip, when it cannot be reached. */
const postgresUrl = process.env.SLUICE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

interface Database {
  readonly url: string
  drop(): Promise<void>
}

const backends: { name: string; open(): Promise<Database> }[] = [
  {
    name: 'SQLite',
    async open() {
      const dir = mkdtempSync(join(tmpdir(), 'sluice-admin-persist-'))
      return { url: `sqlite:${join(dir, 'sluice.db')}`, drop: async () => rmSync(dir, { recursive: true, force: true }) }
    },
  },
  {
    name: 'Postgres',
    async open() {
      // A schema of its own, so this run shares nothing with another one on the same server.
      const schema = `sluice_admin_${process.pid}_${Date.now()}`
      const sql = async (statement: string): Promise<void> => {
        const client = new pg.Client({ connectionString: postgresUrl, connectionTimeoutMillis: 5_000 })
        await client.connect()
        try {
          await client.query(statement)
        } finally {
          await client.end()
        }
      }
      await sql(`CREATE SCHEMA ${schema}`)
      return { url: `${postgresUrl}?schema=${schema}`, drop: () => sql(`DROP SCHEMA IF EXISTS ${schema} CASCADE`) }
    },
  },
]

// learn: adaptive, capped at 2 upstream, so it learns. pinned: adaptive in the file, fixed by
// the admin. flipped: fixed in the file, made adaptive by the admin. quiet: nobody touches it.
const layout = (pinned: number | null, flipped: number | null): Layout => ({
  learn: { k: { simCap: 2 } },
  pinned: { k: { maxConcurrent: pinned } },
  flipped: { k: { maxConcurrent: flipped } },
  quiet: { k: {} },
})

const learn = keyId('learn', 'k')
const pinned = keyId('pinned', 'k')
const flipped = keyId('flipped', 'k')
const quiet = keyId('quiet', 'k')

interface Snapshot {
  keys: KeyRow[]
  stats: Record<string, KeyStats>
  summary: Summary
  /** /status's concurrency section: it shows the fractional learned limit and the accepted level. */
  concurrency: unknown[]
}

for (const backend of backends) {
  describe(`adaptive state across restarts on ${backend.name}`, () => {
    let sim: Simulator
    // Opened once; every test awaits it, so an unreachable server fails each test (it is never skipped).
    let opening: Promise<Database>
    let gw: Gateway | null = null
    const admin = adminClient(() => (gw as Gateway).url)

    /** A gateway on the shared database; the file says `pinned` and `flipped` for those two keys. */
    async function start(config: { pinned: number | null; flipped: number | null }): Promise<Gateway> {
      const db = await opening
      const started = await startAdminGateway(layoutConfig(sim.url, layout(config.pinned, config.flipped), { database: db.url }))
      gw = started.gw
      expect(gw.store.kind).toBe(backend.name === 'SQLite' ? 'sqlite' : 'postgres')
      return gw
    }

    async function stop(): Promise<void> {
      const running = gw as Gateway
      gw = null
      expect(await running.shutdown()).toBe(true)
    }

    async function snapshot(): Promise<Snapshot> {
      const keys = okJson<KeyRow[]>(await admin('/api/admin/adaptive/keys'))
      const stats: Record<string, KeyStats> = {}
      for (const k of keys) stats[k.id] = okJson<KeyStats>(await admin(statsPath(k.id)))
      const summary = okJson<Summary>(await admin('/api/admin/adaptive/summary'))
      const status = (await scheduleStatus((gw as Gateway).url)) as unknown as { concurrency: unknown[] }
      return { keys, stats, summary, concurrency: status.concurrency }
    }

    /** Sends `n` requests at once, each held `ms` upstream, and returns how many the upstream had in flight at most. */
    async function peakConcurrency(provider: string, n: number, ms: number): Promise<number> {
      sim.reset()
      sim.script(Array.from({ length: n }, () => ({ kind: 'stall_before_headers' as const, ms, match: { model: `up-${provider}` } })))
      const results = await Promise.all(Array.from({ length: n }, (_, i) => chat((gw as Gateway).url, { model: provider, id: `${provider}-peak-${i}` })))
      expect(results.map((r) => r.status)).toEqual(results.map(() => 200))
      return sim.stats().keys[`${provider}.k`]?.max_concurrency_seen ?? 0
    }

    beforeAll(async () => {
      sim = await startSimulator({ config: layoutSimConfig(layout(null, 5)) })
      opening = backend.open()
      opening.catch(() => undefined)
    })
    afterAll(async () => {
      if (gw) await gw.shutdown()
      await sim?.close()
      await opening?.then((db) => db.drop(), () => undefined)
    })

    let learned: Snapshot
    let afterRestart: Snapshot
    let afterTraffic: Snapshot
    let configChanged: Snapshot

    it('a key learns from concurrency 429s; the admin fixes one key and frees another', async () => {
      await start({ pinned: null, flipped: 5 })
      await provokeConcurrency429s((gw as Gateway).url, sim, 'learn')
      const counted = okJson<KeyStats>(await admin(statsPath(learn))).concurrent_429_count
      const refused = await upstreamConcurrency429s(sim, 'learn', 20, counted)
      expect(refused).toBeGreaterThan(0)
      expect(okJson(await admin(limitPath(pinned, '3'), { method: 'PATCH' }))).toMatchObject({ max_concurrent: 3, previous_mode: 'adaptive' })
      expect(okJson(await admin(modePath(flipped), { method: 'PATCH', body: { enabled: true } }))).toMatchObject({ is_adaptive: true })

      learned = await snapshot()
      const s = learned.stats[learn] as KeyStats
      expect(s).toMatchObject({ adaptive_mode: true, concurrent_429_count: refused, last_429_type: 'concurrent' })
      expect(s.learned_limit).toBeLessThanOrEqual(2)
      expect(s.adjustment_count).toBeGreaterThan(0)
      expect(s.recent_adjustments.length).toBeGreaterThan(0)
      expect(learned.stats[pinned]).toMatchObject({ adaptive_mode: false, max_concurrent: 3, effective_limit: 3 })
      expect(learned.stats[flipped]).toMatchObject({ adaptive_mode: true, max_concurrent: null, effective_limit: 8 })
      expect(learned.keys.find((k) => k.id === quiet)).toEqual(pristineRow('quiet', 'k'))
      expect(learned.summary.total_concurrent_429_errors).toBe(refused)
      await stop()
    })

    it('a restart on the same database and config brings back every learned limit, counter, history entry and mode', async () => {
      await start({ pinned: null, flipped: 5 })
      afterRestart = await snapshot()
      expect(afterRestart).toEqual(learned)
      expect(afterRestart.stats[learn]?.recent_adjustments).toEqual(learned.stats[learn]?.recent_adjustments)

      // And they are in force, not only shown: the learned limit and the admin's fixed 3.
      const learnedLimit = (learned.stats[learn] as KeyStats).effective_limit
      expect(await peakConcurrency('learn', learnedLimit + 2, 60)).toBe(learnedLimit)
      expect(await peakConcurrency('pinned', 5, 120)).toBe(3)
      afterTraffic = await snapshot()
      await stop()
    })

    it('a restart whose config changed the overridden keys: the config\'s values are in force; what was learned stays', async () => {
      await start({ pinned: 7, flipped: 6 })
      configChanged = await snapshot()
      expect(configChanged.stats[pinned]).toMatchObject({ adaptive_mode: false, max_concurrent: 7, effective_limit: 7 })
      expect(configChanged.stats[flipped]).toMatchObject({ adaptive_mode: false, max_concurrent: 6, effective_limit: 6 })
      expect(configChanged.stats[learn]).toEqual(afterTraffic.stats[learn])
      expect(configChanged.stats[learn]?.recent_adjustments.length).toBeGreaterThan(0)
      expect(configChanged.stats[quiet]).toEqual(learned.stats[quiet])
      await stop()
    })

    it('restarts after that keep the config\'s values: going back to the old value does not revive the admin\'s choice', async () => {
      await start({ pinned: 7, flipped: 6 })
      expect(await snapshot()).toEqual(configChanged)
      await stop()

      await start({ pinned: null, flipped: 5 })
      const back = await snapshot()
      expect(back.stats[pinned]).toMatchObject({ adaptive_mode: true, max_concurrent: null, effective_limit: 8 })
      expect(back.stats[flipped]).toMatchObject({ adaptive_mode: false, max_concurrent: 5, effective_limit: 5 })
      await stop()
    })
  })
}
