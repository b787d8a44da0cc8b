import diagnostics from 'node:diagnostics_channel'
import type { IncomingMessage, Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { expect } from 'vitest'
import type { SluiceConfigInput } from '../../src/config/schema.js'
import type { BreakerState, KeyBreaker } from '../../src/core/breaker/index.js'
import type { Gateway } from '../../src/main.js'
import type { RequestRecord, ScriptedFault, Simulator } from '../../src/simulator/index.js'
import { send, type Reply } from './data-plane.js'

// Helpers for the failover integration tests (DESIGN.md §6 "Balancing", "Failover"): keys that
// fail on a test's schedule, a watch on every breaker's transitions, the admin deployments API,
// the Prometheus text, and probes as the simulator saw them. Every wait is on an event (a
// breaker transition, a request reaching the simulator, a response) and bounded by a timeout.

/** The admin key the failover configs accept. */
export const adminKey = 'adm-failover-7d21c9e04b5a3f18'

/** The upstream model name every probe asks for: the simulator's records tell probes apart by it. */
export const probeModel = 'probe-model'

/** The secret of upstream key `name`; it must never reach an admin reply. */
export const secretOf = (name: string): string => `sk-fo-${name}-5c0e93a1b7d2`

/** Rejects with `what` when `promise` has not settled within `ms`. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** Runs `count` calls of `fn(i)`, at most `concurrency` at once; the results in index order. */
export async function inParallel<T>(count: number, concurrency: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out = new Array<T>(count)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++
      out[i] = await fn(i)
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker))
  return out
}

// ---------------------------------------------------------------------------------------------
// Breakers

export interface BreakerEvent {
  /** provider~key */
  readonly id: string
  readonly state: BreakerState
  /** performance.now() at the transition: the clock the gateway's breakers run on. */
  readonly at: number
}

/**
 * Every transition of every breaker of the gateway's keys, as it happens: the watch chains onto
 * each breaker's change hook (the registry keeps one long-lived breaker per key, so the hook
 * stays for the gateway's life unless a reload drops the key). Lets a test wait for "the key
 * opened" or "the key closed" at the instant it happens instead of polling the admin API.
 */
export class BreakerWatch {
  readonly events: BreakerEvent[] = []
  readonly #waiters: { from: number; accept: (e: BreakerEvent) => boolean; resolve: (e: BreakerEvent) => void }[] = []
  readonly #restore: (() => void)[] = []

  constructor(gw: Gateway) {
    for (const provider of gw.runtime().providers.values()) {
      for (const key of provider.keys) this.#hook(key.breaker)
    }
  }

  /** The states key `id` went through, in order. */
  statesOf(id: string): BreakerState[] {
    return this.events.filter((e) => e.id === id).map((e) => e.state)
  }

  /** The number of transitions seen so far, to wait for one after this point. */
  get mark(): number {
    return this.events.length
  }

  /** Resolves with the first transition of `id` into `state` at or after event index `from` (default: any so far). */
  next(id: string, state: BreakerState, from = 0, timeoutMs = 5_000): Promise<BreakerEvent> {
    const accept = (e: BreakerEvent): boolean => e.id === id && e.state === state
    const seen = this.events.slice(from).find(accept)
    if (seen) return Promise.resolve(seen)
    const waiting = new Promise<BreakerEvent>((resolve) => this.#waiters.push({ from, accept, resolve }))
    return within(waiting, timeoutMs, `breaker ${id} to turn ${state}`)
  }

  /** The state of `id` after its last transition ('closed' when it never moved). */
  current(id: string): BreakerState {
    for (let i = this.events.length - 1; i >= 0; i--) if (this.events[i]?.id === id) return (this.events[i] as BreakerEvent).state
    return 'closed'
  }

  /** Resolves once `id` is in `state` now: at once if its last transition led there, else at the next one that does. */
  settle(id: string, state: BreakerState, timeoutMs = 5_000): Promise<void> {
    if (this.current(id) === state) return Promise.resolve()
    return this.next(id, state, this.mark, timeoutMs).then(() => undefined)
  }

  close(): void {
    for (const restore of this.#restore) restore()
    this.#restore.length = 0
  }

  #hook(b: KeyBreaker): void {
    const previous = b.onChange
    b.onChange = (changed) => {
      previous?.(changed)
      this.#record(changed)
    }
    this.#restore.push(() => {
      b.onChange = previous
    })
  }

  #record(b: KeyBreaker): void {
    const at = performance.now()
    // A transition has just set the state: reading it now takes no lazy step of its own.
    const e: BreakerEvent = { id: b.id, state: b.state(at), at }
    this.events.push(e)
    const index = this.events.length - 1
    for (let i = this.#waiters.length - 1; i >= 0; i--) {
      const w = this.#waiters[i]
      if (w !== undefined && index >= w.from && w.accept(e)) {
        this.#waiters.splice(i, 1)
        w.resolve(e)
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Keys that fail on the test's schedule

/** What the simulator should do with the n-th request (0-based) that reaches it on a key: a scripted step, or null to answer normally. */
export type FaultPlan = (n: number, req: IncomingMessage) => ScriptedFault | null

/**
 * Per-key faults on one simulator: each request that reaches the simulator on key `secret` is
 * given a scripted step chosen by the current plan, pushed when the request starts (node:http's
 * diagnostics channel), so it is queued before the simulator reads the body and takes a step.
 * Steps match the key only, so requests of that key running side by side may swap their steps,
 * but the share of failures stays exactly the plan's. `plan` may be replaced at any time (the
 * simulator "heals" when it returns null).
 */
export class KeyFaults {
  /** Requests seen on the key so far (probes included). */
  seen = 0
  readonly #onStart = (message: unknown): void => {
    const { request: req, server } = message as { request: IncomingMessage; server: Server }
    if ((server.address() as AddressInfo | null)?.port !== this.sim.port) return
    if (req.headers.authorization !== `Bearer ${this.secret}`) return
    const step = this.plan(this.seen++, req)
    if (step !== null) this.sim.script([{ ...step, match: { key: this.secret } }])
  }

  constructor(
    readonly sim: Simulator,
    readonly secret: string,
    public plan: FaultPlan,
  ) {
    diagnostics.subscribe('http.server.request.start', this.#onStart)
  }

  close(): void {
    diagnostics.unsubscribe('http.server.request.start', this.#onStart)
  }
}

/** Every other request fails with `status` (the first one included): exactly half. */
export const everyOther = (status = 500): FaultPlan => (n) => (n % 2 === 0 ? { kind: 'error', status } : null)
/** Every request fails with `status`. */
export const always = (status = 500): FaultPlan => () => ({ kind: 'error', status })
export const healthy: FaultPlan = () => null

// ---------------------------------------------------------------------------------------------
// What the gateway dispatched

export interface Dispatch {
  /** performance.now() when the gateway handed the request to its upstream connection pool. */
  readonly at: number
  readonly path: string
  readonly headers: Readonly<Record<string, string>>
}

/**
 * Every request the gateway dispatches to `origin` (undici's diagnostics channel, in this
 * process), stamped when it is dispatched: the exact spacing the gateway chose, free of the
 * noise a busy machine adds before the request reaches the simulator.
 */
export class DispatchWatch {
  readonly dispatches: Dispatch[] = []
  readonly #onCreate = (message: unknown): void => {
    const { request } = message as { request: { origin: unknown; path: string; headers: unknown } }
    if (!String(request.origin).startsWith(this.origin)) return
    const headers: Record<string, string> = {}
    const flat = Array.isArray(request.headers) ? (request.headers as unknown[]) : []
    for (let i = 0; i + 1 < flat.length; i += 2) headers[String(flat[i]).toLowerCase()] = String(flat[i + 1])
    this.dispatches.push({ at: performance.now(), path: request.path, headers })
  }

  constructor(readonly origin: string) {
    diagnostics.subscribe('undici:request:create', this.#onCreate)
  }

  /** Dispatches on the key whose secret is `secret`, in order. */
  onKey(secret: string): Dispatch[] {
    return this.dispatches.filter((d) => d.headers.authorization === `Bearer ${secret}`)
  }

  /** Probes (no x-request-id) on the key whose secret is `secret`, in order. */
  probesOn(secret: string): Dispatch[] {
    return this.onKey(secret).filter((d) => d.headers['x-request-id'] === undefined)
  }

  close(): void {
    diagnostics.unsubscribe('undici:request:create', this.#onCreate)
  }
}

// ---------------------------------------------------------------------------------------------
// The simulator's records

/** The simulator's records on key `simKeyId` (its stats id), oldest first. */
export function recordsOf(sim: Simulator, simKeyId: string): RequestRecord[] {
  return sim
    .requests()
    .filter((r) => r.key_id === simKeyId)
    .sort((a, b) => a.id - b.id)
}

/**
 * A probe, as the simulator saw it: no x-request-id (every client request carries one). The
 * model (\`probeModel\`) would say it too, but a simulator that refuses the key (401) records no
 * model.
 */
export const isProbe = (r: RequestRecord): boolean => r.headers['x-request-id'] === undefined && (r.model === probeModel || r.model === null)

/** Resolves once the simulator has finished `n` probes on key `simKeyId` (bounded). */
export async function waitForProbes(sim: Simulator, simKeyId: string, n: number, timeoutMs = 5_000): Promise<RequestRecord[]> {
  const wait = async (): Promise<RequestRecord[]> => {
    for (;;) {
      const all = sim.requests()
      const probes = all.filter((r) => r.key_id === simKeyId && isProbe(r))
      if (probes.length >= n) return probes.sort((a, b) => a.id - b.id)
      await sim.waitForRequests(all.length + 1)
    }
  }
  return within(wait(), timeoutMs, `${n} probes on ${simKeyId}`)
}

/** Resolves once the simulator has finished a record for each of these request ids (x-request-id). */
export async function upstreamSaw(sim: Simulator, ids: readonly string[], timeoutMs = 5_000): Promise<void> {
  const wait = async (): Promise<void> => {
    for (;;) {
      const all = sim.requests()
      const seen = new Set(all.map((r) => r.headers['x-request-id']))
      if (ids.every((id) => seen.has(id))) return
      await sim.waitForRequests(all.length + 1)
    }
  }
  return within(wait(), timeoutMs, `upstream records of ${ids.join(', ')}`)
}

/** The simulator's attempts for one request id, oldest first. */
export function attemptsOf(sim: Simulator, requestId: string): RequestRecord[] {
  return sim
    .requests()
    .filter((r) => r.headers['x-request-id'] === requestId)
    .sort((a, b) => a.id - b.id)
}

// ---------------------------------------------------------------------------------------------
// Admin API and metrics

export interface DeploymentRow {
  id: string
  key_id: string
  provider: string
  key: string
  model: string
  routes: string[]
  health: {
    state: BreakerState
    consecutive_failures: number
    last_failure_kind: string | null
    last_failure_at: string | null
    reopens_at: string | null
    disabled_reason: 'auth' | 'admin' | null
    times_opened: number
    demoted_until: string | null
  }
  in_flight: number
  concurrency_limit: number
  pacer_state: string
  probes: { sent: number; passed: number; failed: number; inconclusive: number; last_status: number | null; next_at: string | null } | null
}

/** Calls the admin API with the admin key; every reply is kept in `replies` for the leak scans. */
export function adminCaller(gatewayUrl: () => string, replies: Reply[] = []) {
  return async (path: string, method: 'GET' | 'POST' = 'GET'): Promise<Reply> => {
    const reply = await send(gatewayUrl(), path, { method, headers: { authorization: `Bearer ${adminKey}` } })
    replies.push(reply)
    return reply
  }
}

/** GET /api/admin/deployments, checked for its list shape. */
export async function deployments(admin: ReturnType<typeof adminCaller>): Promise<DeploymentRow[]> {
  const reply = await admin('/api/admin/deployments')
  expect(reply.status, reply.text).toBe(200)
  const body = reply.json<{ object: string; data: DeploymentRow[] }>()
  expect(body.object).toBe('list')
  return body.data
}

/** The row of key `keyId` (provider~key); with several models on the key, the first. */
export async function deploymentOf(admin: ReturnType<typeof adminCaller>, keyId: string): Promise<DeploymentRow> {
  const row = (await deployments(admin)).find((d) => d.key_id === keyId)
  expect(row, `a deployment row for ${keyId}`).toBeDefined()
  return row as DeploymentRow
}

/** The value of one Prometheus series in `text` (labels matched as a set), or undefined when it is absent. */
export function metricValue(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue
    const open = line.indexOf('{')
    const close = line.lastIndexOf('}')
    const have: Record<string, string> = {}
    if (open !== -1 && close > open) {
      for (const m of line.slice(open + 1, close).matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) have[m[1] as string] = m[2] as string
    }
    const keys = Object.keys(labels)
    if (keys.length !== Object.keys(have).length || keys.some((k) => have[k] !== labels[k])) continue
    return Number(line.slice((close === -1 ? line.indexOf(' ') : close + 1)).trim())
  }
  return undefined
}

export async function metricsText(gatewayUrl: string): Promise<string> {
  const reply = await send(gatewayUrl, '/metrics')
  expect(reply.status).toBe(200)
  return reply.text
}

/** The breaker state the metrics report for provider/key (the one series at 1). */
export function breakerStateMetric(text: string, provider: string, key: string): BreakerState | null {
  const states: BreakerState[] = ['closed', 'open', 'half-open', 'disabled']
  const on = states.filter((state) => metricValue(text, 'sluice_breaker_state', { provider, key, state }) === 1)
  return on.length === 1 ? (on[0] as BreakerState) : null
}

// ---------------------------------------------------------------------------------------------
// Configs

export interface KeySpec {
  readonly id: string
  /** The key's secret (default secretOf(id)). */
  readonly secret?: string
  readonly rpm?: number | null
  readonly max_concurrent?: number | null
}

/** An openai-type provider on the simulator with these keys; `extra` adds failover, health_check, … */
export function provider(simUrl: string, keys: readonly KeySpec[], extra: Record<string, unknown> = {}): SluiceConfigInput['providers'][string] {
  return {
    type: 'openai',
    base_url: `${simUrl}/v1`,
    keys: keys.map((k) => ({ id: k.id, key: k.secret ?? secretOf(k.id), rpm: k.rpm ?? null, max_concurrent: k.max_concurrent ?? null })),
    ...extra,
  } as SluiceConfigInput['providers'][string]
}

/** failover on, with probes of `probeModel` every `interval`. */
export function withProbes(interval: string, failover: Record<string, unknown> = {}, timeout = '2s'): Record<string, unknown> {
  return { health_check: { model: probeModel, interval, timeout }, failover: { enabled: true, ...failover } }
}
