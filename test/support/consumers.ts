import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { request as httpRequest, type IncomingMessage } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import pg from 'pg'
import { expect } from 'vitest'
import { createConsumer, createKey } from '../../src/consumers/service.js'
import { generateVirtualKey } from '../../src/core/virtual-keys/index.js'
import type { Gateway } from '../../src/main.js'
import type { ConsumerRow, Store, UsageFilter, UsageRecord, VirtualKeyRow } from '../../src/store/types.js'
import { expectErrorBody, type Reply } from './data-plane.js'

// Helpers for the consumer tests (auth, tier limits, budgets, the usage ledger): callers made
// with the same service the admin API and `sluice keys` use, the simulator's token arithmetic,
// a bounded wait for the ledger, a leak scanner, and the two databases.

/** A consumer with one virtual key; `secret` is the key a client sends. */
export interface Caller {
  readonly consumer: ConsumerRow
  readonly key: VirtualKeyRow
  readonly secret: string
  /** `{ authorization: 'Bearer <secret>' }` */
  readonly headers: Record<string, string>
}

/** A consumer of `tier` (null: no tier) and a key for it, through the consumer service on the gateway's own store. */
export async function makeCaller(gw: Gateway, name: string, tier: string | null, opts: { readonly overrides?: Record<string, unknown> | null } = {}): Promise<Caller> {
  const now = Date.now()
  const consumer = await createConsumer(gw.store, new Set(gw.runtime().tiers.keys()), { name, tier, overrides: opts.overrides ?? null }, now)
  const { secret, key } = await createKey(gw.store, consumer.id, { name: `${name}-key` }, now)
  return { consumer, key, secret, headers: { authorization: `Bearer ${secret}` } }
}

/**
 * A key whose expiry has passed. The service refuses to create one, so the row is written
 * straight into the store, as an expired key would sit there after its time.
 */
export async function makeExpiredKey(gw: Gateway, consumerId: string): Promise<string> {
  const generated = generateVirtualKey()
  const now = Date.now()
  const row: VirtualKeyRow = {
    id: `key_${randomUUID()}`,
    consumerId,
    prefix: generated.prefix,
    name: 'expired',
    createdAt: now - 120_000,
    expiresAt: now - 60_000,
    revokedAt: null,
    lastUsedAt: null,
  }
  await gw.store.virtualKeys.create(row, generated.hash)
  return generated.secret
}

/** A chat body whose user message is `content`. */
export function chatBody(model: string, content: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { model, messages: [{ role: 'user', content }], ...extra }
}

/**
 * The usage the simulator reports for a chat whose only message is `content` with `max_tokens`:
 * the prompt is the messages' text (each followed by a newline) at 4 characters a token, at
 * least 1, and the simulated model always runs to max_tokens.
 */
export function simulatedUsage(content: string, maxTokens: number): { promptTokens: number; completionTokens: number } {
  return { promptTokens: Math.max(1, Math.ceil((content.length + 1) / 4)), completionTokens: maxTokens }
}

/** Checks a refusal: the status, the one OpenAI error shape, the code and the param. */
export function expectRefusal(reply: Reply, status: number, code: string, param: string | null = null): { message: string } {
  expect(reply.status, reply.text).toBe(status)
  expect(reply.headers['content-type']).toContain('application/json')
  return expectErrorBody(reply.json(), code, param)
}

/**
 * The ledger's records matching `filter`, once `accept` holds for them. The writer flushes about
 * once a second and is not reachable from the gateway, so this asks the database (one query
 * at a time, a short pause between) until the records are there or the deadline passes; on
 * the deadline it returns what it has, for the caller's assertion to show.
 */
export async function waitForLedger(store: Store, accept: (records: UsageRecord[]) => boolean, filter: UsageFilter = {}, deadlineMs = 5_000): Promise<UsageRecord[]> {
  const until = performance.now() + deadlineMs
  for (;;) {
    const { records } = await store.usage.query({ ...filter, limit: 10_000, offset: 0 })
    if (accept(records) || performance.now() >= until) return records
    await delay(25)
  }
}

/**
 * Opens a chat stream, reads `n` body chunks, then drops the connection, as a client that
 * leaves midway; resolves once it has dropped it. Rejects when the answer is not a 200.
 */
export function abandonStream(gatewayUrl: string, headers: Record<string, string>, body: string, n: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${gatewayUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) },
    })
    req.on('error', () => undefined) // the destroy below is ours
    req.once('response', (res: IncomingMessage) => {
      if (res.statusCode !== 200) {
        req.destroy()
        reject(new Error(`expected a 200 stream, got ${res.statusCode}`))
        return
      }
      let chunks = 0
      res.on('data', () => {
        if (++chunks < n) return
        res.pause()
        req.destroy()
        resolve()
      })
    })
    req.end(body)
  })
}

/** The value of a Prometheus sample (`name{labels} value`), or null when absent. */
export function metricValue(text: string, name: string): number | null {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line)
    if (m && m[1] === name) return Number(m[3])
  }
  return null
}

/**
 * Every string that would betray `secret`: the whole of it, its part after `visible` (a scheme
 * or prefix that may be shown), every 8-character window of that part, and its base64 and
 * base64url forms at each alignment they could take inside a longer encoded string.
 */
export function leakNeedles(secret: string, visible = ''): string[] {
  const hidden = secret.startsWith(visible) ? secret.slice(visible.length) : secret
  const out = new Set<string>([secret, hidden])
  for (let i = 0; i + 8 <= hidden.length; i++) out.add(hidden.slice(i, i + 8))
  for (const plain of [secret, hidden]) {
    for (let pad = 0; pad < 3; pad++) {
      const encoded = Buffer.from('x'.repeat(pad) + plain).toString('base64')
      const stable = encoded.slice(Math.ceil((pad * 4) / 3) + 1, encoded.length - 4)
      out.add(stable)
      out.add(stable.replace(/\+/g, '-').replace(/\//g, '_'))
    }
  }
  return [...out].filter((n) => n.length >= 8)
}

/** Finds needles in texts and says where. */
export class LeakScan {
  readonly found: string[] = []
  constructor(readonly needles: Readonly<Record<string, readonly string[]>>) {}

  scan(where: string, text: string): void {
    for (const [what, needles] of Object.entries(this.needles)) {
      for (const n of needles) if (text.includes(n)) this.found.push(`${where} contains ${what} (${JSON.stringify(n)})`)
    }
  }
}

/** A database for one test file: its URL and how to remove it afterwards. */
export interface TestDatabase {
  readonly kind: 'sqlite' | 'postgres'
  readonly url: string
  drop(): Promise<void>
}

/** Where the Postgres tests run. They fail, never skip, when it cannot be reached. */
export const postgresUrl = process.env.SLUICE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

/** A SQLite file in a fresh directory (a file, not :memory:, so it can be read again after shutdown). */
export function sqliteDatabase(label: string): TestDatabase {
  const dir = mkdtempSync(join(tmpdir(), `sluice-${label}-`))
  return { kind: 'sqlite', url: `sqlite:${join(dir, 'sluice.db')}`, drop: async () => rmSync(dir, { recursive: true, force: true }) }
}

/** A fresh schema on the test Postgres server, so a run shares nothing with another one. */
export async function postgresDatabase(label: string): Promise<TestDatabase> {
  const schema = `sluice_${label}_${process.pid}_${Date.now()}_${Math.floor(Math.random() * 1e6)}`
  await postgresSql(`CREATE SCHEMA ${schema}`)
  const separator = postgresUrl.includes('?') ? '&' : '?'
  return { kind: 'postgres', url: `${postgresUrl}${separator}schema=${schema}`, drop: () => postgresSql(`DROP SCHEMA IF EXISTS ${schema} CASCADE`) }
}

async function postgresSql(statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: postgresUrl, connectionTimeoutMillis: 5_000 })
  await client.connect()
  try {
    await client.query(statement)
  } finally {
    await client.end()
  }
}
