import diagnostics from 'node:diagnostics_channel'
import type { IncomingMessage, Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { request } from 'undici'
import { expect } from 'vitest'
import type { Gateway } from '../../src/main.js'
import { flat, send } from './data-plane.js'

// Helpers for the learned-concurrency integration tests: /status's `concurrency` section, the
// permits a gateway holds this instant, and waits on a server having a given request. Every
// wait is on an event (a server reading a request, a response, an access-log line).

/** One entry of /status `concurrency`. */
export interface LimitStatus {
  id: string
  provider: string
  key: string
  mode: 'adaptive' | 'fixed'
  effective_limit: number
  learned_limit: number
  learned_exact: number
  accepted_level: number | null
  in_flight: number
  concurrent_429_count: number
  last_429_type: string | null
}

export interface ConcurrencyStatus {
  requests: { in_flight: number; total: number; by_outcome: Record<string, number> }
  queues: Record<string, { waiting: number; bypassing: number }>
  concurrency: LimitStatus[]
  raw: string
}

/** GET /status, with the sections these tests read. */
export async function concurrencyStatus(gatewayUrl: string): Promise<ConcurrencyStatus> {
  const res = await send(gatewayUrl, '/status')
  expect(res.status).toBe(200)
  return { ...res.json<Omit<ConcurrencyStatus, 'raw'>>(), raw: res.text }
}

/** The /status entry of one key, by its id `provider~key`. */
export async function limitStatus(gatewayUrl: string, id: string): Promise<LimitStatus> {
  const status = await concurrencyStatus(gatewayUrl)
  const limit = status.concurrency.find((l) => l.id === id)
  expect(limit, `a concurrency entry for ${id}`).toBeDefined()
  return limit as LimitStatus
}

export interface Permits {
  /** `provider~key`, as /status names it. */
  readonly id: string
  readonly inflight: number
  readonly effective: number
  /** The fixed limit, or null when adaptive. */
  readonly fixed: number | null
}

/**
 * The permits every key holds this instant, read from the gateway's live runtime without any
 * I/O: a check made inside an event handler sees the state at exactly that event.
 */
export function permitsNow(gw: Gateway): Permits[] {
  const out: Permits[] = []
  for (const provider of gw.runtime().providers.values()) {
    for (const key of provider.keys) {
      const l = key.limit
      out.push({ id: l.id, inflight: l.inflight, effective: l.effective, fixed: l.fixed })
    }
  }
  return out
}

/** Channels published at the moments permits change or matter: a request reaching a server, an answer ending, the gateway dispatching upstream. */
const sampledChannels = ['http.server.request.start', 'http.server.response.finish', 'undici:request:create', 'undici:request:headers'] as const

export interface PermitMonitorOptions {
  /** An upper bound on the permits key `id` may hold now (e.g. its requests the gateway has not finished). */
  readonly bound?: (id: string) => number
  /** The simulator's port and how to tell which key an upstream request uses: at its arrival that key must hold a permit for it. */
  readonly upstream?: { readonly port: number; readonly keyOf: (req: IncomingMessage) => string | undefined }
}

/**
 * Checks the gateway's permits at every HTTP event in this process (a request arriving at the
 * gateway or the simulator, an answer finishing, an upstream dispatch), synchronously in the
 * event's own turn: never negative, never above a fixed limit or the caller's bound, and at
 * least one on a key while the simulator starts a request sent with it.
 */
export class PermitMonitor {
  readonly violations: string[] = []
  /** Most permits seen held at once, per key id. */
  readonly peak = new Map<string, number>()
  /** Checks made since the monitor began. */
  samples = 0
  readonly #sample = (message: unknown, name: string | symbol): void => {
    this.check(String(name))
    const upstream = this.opts.upstream
    if (upstream === undefined || name !== 'http.server.request.start') return
    const { request: req, server } = message as { request: IncomingMessage; server: Server }
    if ((server.address() as AddressInfo | null)?.port !== upstream.port) return
    const id = upstream.keyOf(req)
    const held = permitsNow(this.gw).find((p) => p.id === id)
    if (id !== undefined && (held === undefined || held.inflight < 1)) {
      this.violations.push(`${req.headers['x-request-id'] ?? '?'} reached the upstream on ${id} holding no permit (${held?.inflight ?? 'no key'})`)
    }
  }

  constructor(
    private readonly gw: Gateway,
    private readonly opts: PermitMonitorOptions = {},
  ) {
    for (const channel of sampledChannels) diagnostics.subscribe(channel, this.#sample)
  }

  /** Checks the permits now; `where` names the moment in a violation. */
  check(where: string): void {
    this.samples++
    for (const p of permitsNow(this.gw)) {
      this.peak.set(p.id, Math.max(this.peak.get(p.id) ?? 0, p.inflight))
      const bound = Math.min(p.fixed ?? Infinity, this.opts.bound?.(p.id) ?? Infinity)
      if (p.inflight < 0 || p.inflight > bound) this.violations.push(`${where}: ${p.id} holds ${p.inflight} permits (at most ${bound} allowed)`)
    }
  }

  /** Forgets peaks and violations (not the sample count), e.g. between the runs of a property. */
  reset(): void {
    this.violations.length = 0
    this.peak.clear()
  }

  close(): void {
    for (const channel of sampledChannels) diagnostics.unsubscribe(channel, this.#sample)
  }
}

/**
 * Which requests (by x-request-id) a node:http server on `port` has read completely. `arrived`
 * resolves one event-loop turn after the body's last byte: on the gateway the request is then
 * queued or dispatched; on the simulator its scripted step is taken and it is being served.
 */
export class Arrivals {
  /** Requests started on the port since the watch began (or the last reset), with or without an id. */
  started = 0
  readonly #done = new Set<string>()
  readonly #waiters = new Map<string, (() => void)[]>()
  readonly #onStart = (message: unknown): void => {
    const { request: req, server } = message as { request: IncomingMessage; server: Server }
    if ((server.address() as AddressInfo | null)?.port !== this.port) return
    this.started++
    const id = req.headers['x-request-id']
    if (typeof id !== 'string') return
    // 'end' without a 'data' listener does not switch the stream to flowing mode.
    req.once('end', () => {
      this.#done.add(id)
      const waiting = this.#waiters.get(id) ?? []
      this.#waiters.delete(id)
      for (const resolve of waiting) resolve()
    })
  }

  constructor(readonly port: number) {
    diagnostics.subscribe('http.server.request.start', this.#onStart)
  }

  async arrived(id: string): Promise<void> {
    if (!this.#done.has(id)) {
      await new Promise<void>((resolve) => {
        const list = this.#waiters.get(id) ?? []
        list.push(resolve)
        this.#waiters.set(id, list)
      })
    }
    await nextTurn()
  }

  resetCount(): void {
    this.started = 0
  }

  close(): void {
    diagnostics.unsubscribe('http.server.request.start', this.#onStart)
  }
}

export interface CallOptions {
  /** Sent as x-request-id. */
  readonly id: string
  readonly model: string
  readonly stream?: boolean
  /** A body to send instead of a well-formed chat request (for validation errors). */
  readonly body?: string
  readonly signal?: AbortSignal
  readonly maxWait?: string
  readonly maxTokens?: number
}

export interface Call {
  readonly id: string
  /** 0 when the test aborted the request before its headers arrived. */
  readonly status: number
  readonly headers: Record<string, string>
  readonly text: string
  /** error.code of a JSON error answer, else null. */
  readonly code: string | null
  readonly aborted: boolean
}

export interface OpenCall {
  /** The response headers once they arrived ({} if the call ended without any), so a wait on it never hangs. */
  readonly headers: Promise<Record<string, string>>
  /** Resolves once the first body chunk arrived, or the call ended without one. */
  readonly firstChunk: Promise<void>
  /** An abort by the test is a result with `aborted`; only a failure the test did not cause rejects. */
  readonly result: Promise<Call>
}

/** POST /v1/chat/completions with undici, body read chunk by chunk, so a test can act after the first one. */
export function openCall(gatewayUrl: string, o: CallOptions): OpenCall {
  let chunkSeen!: () => void
  const firstChunk = new Promise<void>((resolve) => (chunkSeen = resolve))
  let headersSeen!: (headers: Record<string, string>) => void
  const headersArrived = new Promise<Record<string, string>>((resolve) => (headersSeen = resolve))
  const headers: Record<string, string> = { 'content-type': 'application/json', 'x-request-id': o.id }
  if (o.maxWait !== undefined) headers['x-sluice-max-wait'] = o.maxWait
  const body = o.body ?? JSON.stringify({ model: o.model, messages: [{ role: 'user', content: o.id }], max_tokens: o.maxTokens ?? 4, stream: o.stream ?? false })
  const result = (async (): Promise<Call> => {
    let status = 0
    let resHeaders: Record<string, string> = {}
    const chunks: Buffer[] = []
    try {
      const res = await request(`${gatewayUrl}/v1/chat/completions`, { method: 'POST', headers, body, signal: o.signal })
      status = res.statusCode
      resHeaders = flat(res.headers)
      headersSeen(resHeaders)
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        chunks.push(chunk)
        chunkSeen()
      }
      const text = Buffer.concat(chunks).toString('utf8')
      return { id: o.id, status, headers: resHeaders, text, code: errorCode(text), aborted: false }
    } catch (err) {
      if (o.signal?.aborted) return { id: o.id, status, headers: resHeaders, text: Buffer.concat(chunks).toString('utf8'), code: null, aborted: true }
      throw err
    } finally {
      headersSeen(resHeaders)
      chunkSeen()
    }
  })()
  return { headers: headersArrived, firstChunk, result }
}

function errorCode(text: string): string | null {
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown } }
    return typeof body.error?.code === 'string' ? body.error.code : null
  } catch {
    return null
  }
}

/** The code of the SSE error event a stream ended with, or null. */
export function sseErrorCode(text: string): string | null {
  for (const line of text.split('\n')) {
    if (!line.startsWith('data: ') || !line.includes('"error"')) continue
    const code = errorCode(line.slice('data: '.length))
    if (code !== null) return code
  }
  return null
}

/** The body the simulator's own key cap answers with (an OpenAI concurrency 429), for scripted refusals. */
export function concurrency429Body(upstreamModel: string, cap: number): Record<string, unknown> {
  return {
    error: {
      message: `Too many concurrent requests for ${upstreamModel}: limit ${cap} in flight. Please try again shortly.`,
      type: 'requests',
      param: null,
      code: 'rate_limit_exceeded',
    },
  }
}

/** The value of one exact series line in Prometheus text, or undefined. */
export function sample(text: string, series: string): string | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return line?.slice(series.length + 1)
}
