import { expect } from 'vitest'
import type { SluiceConfigInput } from '../../../src/config/schema.js'
import { startGateway, type Gateway } from '../../../src/main.js'
import type { KeyConfigInput, Simulator, SimulatorConfigInput } from '../../../src/simulator/index.js'
import { createLogger } from '../../../src/telemetry/logger.js'
import { expectErrorBody, send, type Reply } from '../../support/data-plane.js'
import { LogCapture } from '../../support/harness.js'
import { chat, type ChatResult } from '../../support/schedule.js'

// Helpers for the adaptive admin API tests: a config of single-purpose providers, authenticated
// admin calls that keep every reply (for the leak scans), and a burst that makes a key learn.

/** The admin key the configs accept. */
export const adminKey = 'adm-test-4f9c2a71e0b3d865aa17'

/** One upstream key: the config file's max_concurrent and the simulator's in-flight cap. */
export interface KeySpec {
  readonly maxConcurrent?: number | null
  readonly simCap?: number | null
}

/** Providers by id, each with its keys by id. */
export type Layout = Record<string, Record<string, KeySpec>>

/** The secret of key `key` of `provider`; it must never reach an admin reply or a log line. */
export const keyValue = (provider: string, key: string): string => `sk-adm-${provider}-${key}-0b9d27c4e1f3`

/** The admin API's id of a key. */
export const keyId = (provider: string, key: string): string => `${provider}~${key}`

/**
 * Provider `p` serves model `p` as upstream model `up-p` (so the simulator's records and
 * scripted steps can be told apart by model); the simulator names each key `p.k` in its stats.
 */
export function layoutConfig(simUrl: string, layout: Layout, extra: Omit<SluiceConfigInput, 'providers' | 'models'> = {}): SluiceConfigInput {
  const providers: SluiceConfigInput['providers'] = {}
  const models: NonNullable<SluiceConfigInput['models']> = {}
  for (const [p, keys] of Object.entries(layout)) {
    providers[p] = {
      type: 'openai',
      base_url: `${simUrl}/v1`,
      keys: Object.entries(keys).map(([k, spec]) => ({ id: k, key: keyValue(p, k), max_concurrent: spec.maxConcurrent ?? null })),
    }
    models[p] = { targets: [{ provider: p, model: `up-${p}` }] }
  }
  return { admin: { keys: [adminKey] }, ...extra, providers, models }
}

export function layoutSimConfig(layout: Layout): SimulatorConfigInput {
  const keys: Record<string, KeyConfigInput> = {}
  for (const [p, ks] of Object.entries(layout)) {
    for (const [k, spec] of Object.entries(ks)) keys[keyValue(p, k)] = { id: `${p}.${k}`, max_concurrent: spec.simCap ?? null }
  }
  return { keys }
}

export interface AdminCallOptions {
  readonly method?: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE'
  /** An object is sent as JSON, a string as it is. */
  readonly body?: unknown
  /** The whole Authorization header; default `Bearer <adminKey>`; null sends none. */
  readonly authorization?: string | null
}

/** Calls the admin API and keeps each reply in `replies`, so a test can scan all of them. */
export function adminClient(url: () => string, replies: Reply[] = []) {
  return async function call(path: string, opts: AdminCallOptions = {}): Promise<Reply> {
    const headers: Record<string, string> = {}
    const auth = opts.authorization === undefined ? `Bearer ${adminKey}` : opts.authorization
    if (auth !== null) headers.authorization = auth
    const reply = await send(url(), path, { method: opts.method ?? 'GET', headers, body: opts.body })
    replies.push(reply)
    return reply
  }
}

/** A 2xx reply's JSON, after checking the status and that it is JSON and never cached. */
export function okJson<T = Record<string, unknown>>(reply: Reply): T {
  expect(reply.status, reply.text).toBe(200)
  expect(reply.headers['content-type']).toContain('application/json')
  expect(reply.headers['cache-control']).toBe('no-store')
  return reply.json<T>()
}

/** Checks an error reply: the status, the one error shape, the code and the param. */
export function expectError(reply: Reply, status: number, code: string, param: string | null = null): { message: string } {
  expect(reply.status, reply.text).toBe(status)
  expect(reply.headers['content-type']).toContain('application/json')
  return expectErrorBody(reply.json(), code, param)
}

export const statsPath = (id: string): string => `/api/admin/adaptive/keys/${encodeURIComponent(id)}/stats`
export const modePath = (id: string): string => `/api/admin/adaptive/keys/${encodeURIComponent(id)}/mode`
export const learningPath = (id: string): string => `/api/admin/adaptive/keys/${encodeURIComponent(id)}/learning`
export const limitPath = (id: string, limit?: string): string =>
  `/api/admin/adaptive/keys/${encodeURIComponent(id)}/limit${limit === undefined ? '' : `?limit=${limit}`}`

export interface Adjustment {
  timestamp: string
  old_limit: number
  new_limit: number
  reason: string
  inflight: number
}

export interface KeyStats {
  adaptive_mode: boolean
  max_concurrent: number | null
  effective_limit: number
  learned_limit: number
  concurrent_429_count: number
  rpm_429_count: number
  tpm_429_count: number
  last_429_at: string | null
  last_429_type: string | null
  in_flight: number
  adjustment_count: number
  recent_adjustments: Adjustment[]
}

export interface KeyRow {
  id: string
  name: string
  endpoint_id: string
  is_adaptive: boolean
  max_concurrent: number | null
  effective_limit: number
  learned_max_concurrent: number
  concurrent_429_count: number
  rpm_429_count: number
}

export interface Summary {
  total_adaptive_keys: number
  total_concurrent_429_errors: number
  total_rpm_429_errors: number
  total_adjustments: number
  recent_adjustments: (Adjustment & { key_id: string })[]
}

/** The list row of a key nobody has touched, as the config file describes it. */
export function pristineRow(provider: string, key: string, maxConcurrent: number | null = null): KeyRow {
  return {
    id: keyId(provider, key),
    name: key,
    endpoint_id: provider,
    is_adaptive: maxConcurrent === null,
    max_concurrent: maxConcurrent,
    effective_limit: maxConcurrent ?? 8,
    learned_max_concurrent: 8,
    concurrent_429_count: 0,
    rpm_429_count: 0,
  }
}

/**
 * Makes adaptive key `provider`'s only key meet its simulator cap of 2: the first two requests
 * to reach the simulator are held (scripted stalls count as in flight but skip the limits), so
 * every other request the gateway sends meanwhile — it starts at 8 — gets a concurrency 429.
 * The gateway retries those, so every client still gets 200. Returns the answers.
 */
export async function provokeConcurrency429s(gatewayUrl: string, sim: Simulator, provider: string, n = 20, holdMs = 300): Promise<ChatResult[]> {
  const model = `up-${provider}`
  sim.script([
    { kind: 'stall_before_headers', ms: holdMs, match: { model } },
    { kind: 'stall_before_headers', ms: holdMs, match: { model } },
  ])
  const results = await Promise.all(
    Array.from({ length: n }, (_, i) => chat(gatewayUrl, { model: provider, id: `${provider}-burst-${String(i).padStart(3, '0')}` })),
  )
  expect(results.map((r) => r.status)).toEqual(results.map(() => 200))
  return results
}

/**
 * The simulator's count of concurrency 429s for `provider`'s key, once it has finished a record
 * for each of the `sent` requests plus each of the `refusedByGateway` 429s the gateway says it
 * got: the simulator counts a request when its response closes, which can trail the client.
 */
export async function upstreamConcurrency429s(sim: Simulator, provider: string, sent: number, refusedByGateway: number): Promise<number> {
  const model = `up-${provider}`
  for (;;) {
    const all = sim.requests()
    if (all.filter((r) => r.model === model).length >= sent + refusedByGateway) break
    await sim.waitForRequests(all.length + 1)
  }
  return sim.stats().keys[`${provider}.k`]?.rate_limited.concurrent ?? 0
}

/** A gateway on `config` with its logs captured, as startStack makes one, but on a simulator the caller keeps across restarts. */
export async function startAdminGateway(config: SluiceConfigInput | { file: string }, database?: string): Promise<{ gw: Gateway; logs: LogCapture }> {
  const logs = new LogCapture()
  const source = 'file' in config ? { file: config.file as string } : { value: config, label: 'test' }
  const gw = await startGateway({ config: source, logger: createLogger({ level: 'info', destination: logs }), port: 0, processMetrics: false, watch: false, database })
  return { gw, logs }
}

/** A 201 reply's JSON, after checking the status and that it is JSON and never cached. */
export function createdJson<T = Record<string, unknown>>(reply: Reply): T {
  expect(reply.status, reply.text).toBe(201)
  expect(reply.headers['content-type']).toContain('application/json')
  expect(reply.headers['cache-control']).toBe('no-store')
  return reply.json<T>()
}

/**
 * Asks `probe` (one call at a time, a short pause between) until `accept` holds for its answer
 * or `deadlineMs` passes; returns the last answer either way, for the caller's assertion to show.
 * For what the gateway does off the request path, such as the usage ledger's writes (every 1 s).
 */
export async function eventually<T>(probe: () => Promise<T>, accept: (value: T) => boolean, deadlineMs = 5_000): Promise<T> {
  const until = performance.now() + deadlineMs
  for (;;) {
    const value = await probe()
    if (accept(value) || performance.now() >= until) return value
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

/** A route's path with every parameter filled with a dummy id ({id+} spans segments, as a deployment id does). */
export function dummyPath(path: string): string {
  return path.replace(/\{(\w+)\+\}/g, 'dummy-provider/dummy-key/dummy-model').replace(/\{(\w+)\}/g, (_m, name: string) => `dummy-${name}`)
}
