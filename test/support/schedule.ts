import diagnostics from 'node:diagnostics_channel'
import type { IncomingMessage, Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { request } from 'undici'
import { expect } from 'vitest'
import type { SluiceConfigInput } from '../../src/config/schema.js'
import type { KeyConfigInput, RequestRecord, SimulatorConfigInput } from '../../src/simulator/index.js'
import { flat, send } from './data-plane.js'
import type { Stack } from './harness.js'

// Helpers for the schedule (queue + pacer) integration tests. Every wait here is on an event:
// a server reading a request, an access-log line, a response. Nothing polls or sleeps.

/** One scenario: its own route, provider, key and pacer, so the tests of a file never share a pacer. */
export interface Scenario {
  /** The gateway key's configured ceilings; null learns them. */
  readonly rpm?: number | null
  readonly tpm?: number | null
  /** The simulator's side of the key (its limits, headers, quota). */
  readonly sim?: KeyConfigInput
  /** The provider's limit_scope (default key). */
  readonly limitScope?: 'key' | 'key-model'
}

/**
 * Scenario `name` is the model `name`, served by provider `p-name` with key id `k-name` (value
 * `sk-sched-name`) and upstream model `up-name`, so the simulator's records can be told apart by model.
 */
export function scenarioConfig(
  simUrl: string,
  scenarios: Record<string, Scenario>,
  extra: Omit<SluiceConfigInput, 'providers' | 'models'> = {},
): SluiceConfigInput {
  const providers: SluiceConfigInput['providers'] = {}
  const models: NonNullable<SluiceConfigInput['models']> = {}
  for (const [name, s] of Object.entries(scenarios)) {
    providers[`p-${name}`] = {
      type: 'openai',
      base_url: `${simUrl}/v1`,
      limit_scope: s.limitScope ?? 'key',
      keys: [{ id: `k-${name}`, key: keyValue(name), rpm: s.rpm ?? null, tpm: s.tpm ?? null }],
    }
    models[name] = { targets: [{ provider: `p-${name}`, model: `up-${name}` }] }
  }
  return { ...extra, providers, models }
}

/** The simulator keys of the scenarios, with their stats ids equal to the scenario names. */
export function scenarioSimConfig(scenarios: Record<string, Scenario>, extra: SimulatorConfigInput = {}): SimulatorConfigInput {
  const keys: Record<string, KeyConfigInput> = {}
  for (const [name, s] of Object.entries(scenarios)) keys[keyValue(name)] = { id: name, ...s.sim }
  return { ...extra, keys }
}

export const keyValue = (scenario: string): string => `sk-sched-${scenario}-secret`

export interface ChatRequest {
  readonly model: string
  /** Sent as x-request-id and as the message text; keep ids of one test equally long so every request costs the same. */
  readonly id: string
  readonly priority?: string
  /** X-Sluice-Max-Wait */
  readonly maxWait?: string
  /** The consumer: sent as `Authorization: Bearer <consumer>`. */
  readonly consumer?: string
  readonly stream?: boolean
  readonly signal?: AbortSignal
  readonly maxTokens?: number
}

export interface ChatResult {
  readonly id: string
  /** 0 when the test aborted the request before an answer. */
  readonly status: number
  readonly headers: Record<string, string>
  readonly text: string
  /** error.code of an error answer, else null. */
  readonly code: string | null
  readonly aborted: boolean
  /** From sending to the end of the answer, ms. */
  readonly elapsedMs: number
}

export function chatBody(r: Pick<ChatRequest, 'model' | 'id' | 'stream' | 'maxTokens'>): string {
  return JSON.stringify({ model: r.model, messages: [{ role: 'user', content: r.id }], max_tokens: r.maxTokens ?? 4, stream: r.stream ?? false })
}

/** POST /v1/chat/completions; never rejects: an abort by the test is a result with `aborted`. */
export async function chat(gatewayUrl: string, r: ChatRequest): Promise<ChatResult> {
  const headers: Record<string, string> = { 'content-type': 'application/json', 'x-request-id': r.id }
  if (r.priority !== undefined) headers['x-priority'] = r.priority
  if (r.maxWait !== undefined) headers['x-sluice-max-wait'] = r.maxWait
  if (r.consumer !== undefined) headers.authorization = `Bearer ${r.consumer}`
  const started = performance.now()
  try {
    const res = await request(`${gatewayUrl}/v1/chat/completions`, { method: 'POST', headers, body: chatBody(r), signal: r.signal })
    const text = await res.body.text()
    return { id: r.id, status: res.statusCode, headers: flat(res.headers), text, code: errorCode(text), aborted: false, elapsedMs: performance.now() - started }
  } catch (err) {
    if (r.signal?.aborted) return { id: r.id, status: 0, headers: {}, text: '', code: null, aborted: true, elapsedMs: performance.now() - started }
    throw err
  }
}

function errorCode(text: string): string | null {
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown } }
    return typeof body.error?.code === 'string' ? body.error.code : null
  } catch {
    return null
  }
}

/**
 * Request ids (x-request-id) in the order a node:http server on `port` got them: at the start
 * of each request, or once its body was read (`until: 'end'`). On the gateway, `until: 'end'`
 * means the request is in its queue (or dispatched) one event-loop turn later: everything
 * between the last body byte and the queue is synchronous or microtasks.
 */
export class RequestWatch {
  readonly ids: string[] = []
  readonly #waiters: { n: number; resolve: () => void }[] = []
  readonly #onStart = (message: unknown): void => {
    const { request: req, server } = message as { request: IncomingMessage; server: Server }
    if ((server.address() as AddressInfo | null)?.port !== this.port || !(req.url ?? '').startsWith(this.path)) return
    const id = String(req.headers['x-request-id'] ?? '')
    if (this.until === 'end') req.once('end', () => this.#add(id))
    else this.#add(id)
  }

  constructor(
    readonly port: number,
    readonly until: 'start' | 'end' = 'start',
    readonly path = '/v1/',
  ) {
    diagnostics.subscribe('http.server.request.start', this.#onStart)
  }

  /** Resolves one event-loop turn after the n-th request (counted since the watch began) arrived. */
  async count(n: number): Promise<void> {
    if (this.ids.length < n) await new Promise<void>((resolve) => this.#waiters.push({ n, resolve }))
    await nextTurn()
  }

  has(id: string): boolean {
    return this.ids.includes(id)
  }

  close(): void {
    diagnostics.unsubscribe('http.server.request.start', this.#onStart)
  }

  #add(id: string): void {
    this.ids.push(id)
    for (let i = this.#waiters.length - 1; i >= 0; i--) {
      const w = this.#waiters[i]
      if (w !== undefined && this.ids.length >= w.n) {
        this.#waiters.splice(i, 1)
        w.resolve()
      }
    }
  }
}

export interface PacerStatus {
  id: string
  provider: string
  key: string
  model: string | null
  state: 'steady' | 'paused' | 'retreating' | 'recovering'
  in_flight: number
  requests: { rate_rpm: number | null; configured_rpm: number | null; learned_rpm: number | null; paused_for_ms: number }
  tokens: { rate_tpm: number | null; configured_tpm: number | null; learned_tpm: number | null; paused_for_ms: number }
  out_of_service_for_ms: number
  upstream_429: Record<string, number>
  last_429_type: string | null
}

export interface QueueStatus {
  waiting: number
  by_priority: { urgent: number; high: number; normal: number; low: number }
  bypassing: number
}

export interface ScheduleStatus {
  requests: { in_flight: number; total: number; by_outcome: Record<string, number> }
  queues: Record<string, QueueStatus>
  pacers: PacerStatus[]
}

/** GET /status, with its scheduling sections. */
export async function scheduleStatus(gatewayUrl: string): Promise<ScheduleStatus & { raw: string }> {
  const res = await send(gatewayUrl, '/status')
  expect(res.status).toBe(200)
  return { ...res.json<ScheduleStatus>(), raw: res.text }
}

export async function pacerOf(gatewayUrl: string, scenario: string): Promise<PacerStatus> {
  const status = await scheduleStatus(gatewayUrl)
  const pacer = status.pacers.find((p) => p.provider === `p-${scenario}`)
  expect(pacer, `a pacer for scenario ${scenario}`).toBeDefined()
  return pacer as PacerStatus
}

/**
 * Waits until the gateway has read `n` more requests (counted by `watch` since it began), then
 * checks that `waiting` of them wait in the queue of `model`.
 */
export async function expectQueued(stack: Stack, watch: RequestWatch, n: number, model: string, waiting: number): Promise<void> {
  await watch.count(n)
  const status = await scheduleStatus(stack.gw.url)
  expect(status.queues[model]?.waiting, `requests waiting for ${model}`).toBe(waiting)
}

/** The simulator's records for one scenario, in the order it received them. */
export function upstreamRecords(stack: Stack, scenario: string): RequestRecord[] {
  return stack.sim
    .requests()
    .filter((r) => r.model === `up-${scenario}`)
    .sort((a, b) => a.id - b.id)
}

/** x-request-id of the simulator's records for one scenario, in the order it received them. */
export function upstreamOrder(stack: Stack, scenario: string): string[] {
  return upstreamRecords(stack, scenario).map((r) => r.headers['x-request-id'] ?? '')
}

/**
 * Resolves once the simulator has finished a record for each of these request ids. A client can
 * hold its whole answer a moment before the simulator's response emits 'close' (when it records),
 * so positive checks on the records wait for them here.
 */
export async function upstreamHas(stack: Stack, ids: readonly string[]): Promise<void> {
  for (;;) {
    const records = stack.sim.requests()
    const seen = new Set(records.map((r) => r.headers['x-request-id']))
    if (ids.every((id) => seen.has(id))) return
    await stack.sim.waitForRequests(records.length + 1)
  }
}

/** Resolves with the access-log records of these request ids once each has one (in the order given). */
export async function accessLogFor(stack: Stack, ids: readonly string[]): Promise<Record<string, unknown>[]> {
  const records = await stack.logs.waitForAccessLog((all) => ids.every((id) => all.some((r) => r.requestId === id)))
  return ids.map((id) => records.find((r) => r.requestId === id) as Record<string, unknown>)
}

/** A chat completion body the simulator could have sent, for scripted answers. */
export function completionJson(model: string): Record<string, unknown> {
  return {
    id: 'chatcmpl-scripted',
    object: 'chat.completion',
    created: 1,
    model,
    choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 5, completion_tokens: 1, total_tokens: 6 },
  }
}

/** OpenAI's rate-limit 429 body for requests per minute. */
export const rpm429Body = {
  error: { message: 'Rate limit reached for requests on up-model in organization org-sim on requests per min (RPM): Limit 3, Used 3, Requested 1.', type: 'requests', code: 'rate_limit_exceeded', param: null },
}

/**
 * Holds a scenario's key for a moment without any 429: sends `gate-<scenario>` with a large
 * max_tokens, whose token charge fills the key's token pacer (the scenario needs `tpm`) until
 * about `maxTokens × 60000 / (0.97 × tpm)` ms after it is dispatched — with tpm 100 000 and the
 * default 500, ~325 ms, ample time to queue a few dozen local requests. The simulator stalls
 * it for `stallMs`, so its usage refund cannot reopen the key early. Resolves once the
 * simulator has it (so it was dispatched and charged); `result` is the gate request's own answer.
 */
export async function holdKey(stack: Stack, scenario: string, opts: { maxTokens?: number; stallMs?: number } = {}): Promise<{ result: Promise<ChatResult> }> {
  const id = `gate-${scenario}`
  stack.sim.script([{ kind: 'stall_before_headers', ms: opts.stallMs ?? 450, match: { model: `up-${scenario}` } }])
  const upstream = new RequestWatch(stack.sim.port)
  const result = chat(stack.gw.url, { model: scenario, id, maxTokens: opts.maxTokens ?? 500, priority: 'urgent', consumer: 'gatekeeper' })
  await upstream.count(1)
  upstream.close()
  expect(upstream.ids).toEqual([id])
  return { result }
}
