import { createHash } from 'node:crypto'
import { request } from 'undici'
import { startSimulator, type Simulator, type SimulatorConfigInput } from '../../../src/simulator/index.js'

/** A clock tests move by hand: limiter windows never depend on how fast the machine is. */
export class FakeClock {
  constructor(public t = 1_700_000_000_000) {}
  now(): number {
    return this.t
  }
  advance(ms: number): void {
    this.t += ms
  }
}

export interface Reply {
  status: number
  headers: Record<string, string>
  bytes: Buffer
  text: string
  json(): unknown
}

export async function send(
  sim: Simulator,
  path: string,
  opts: { method?: 'GET' | 'POST' | 'DELETE', headers?: Record<string, string>, body?: unknown } = {},
): Promise<Reply> {
  const res = await request(`${sim.url}${path}`, {
    method: opts.method ?? (opts.body === undefined ? 'GET' : 'POST'),
    headers: { 'content-type': 'application/json', ...opts.headers },
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  })
  const bytes = Buffer.from(await res.body.arrayBuffer())
  const headers: Record<string, string> = {}
  for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v
  const text = bytes.toString('utf8')
  return { status: res.statusCode, headers, bytes, text, json: () => JSON.parse(text) as unknown }
}

export const bearer = (key: string): Record<string, string> => ({ authorization: `Bearer ${key}` })

export function chatBody(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { model: 'sim-small', messages: [{ role: 'user', content: 'Say something in several languages' }], ...extra }
}

/** The `data:` payloads of an SSE body, in order. */
export function sseData(text: string): string[] {
  return text.split('\n\n').filter((e) => e !== '').map((e) => {
    const line = e.split('\n').find((l) => l.startsWith('data: '))
    return line === undefined ? '' : line.slice('data: '.length)
  })
}

/** Named SSE events (Anthropic): [event, parsed data]. */
export function sseEvents(text: string): Array<[string, Record<string, unknown>]> {
  return text.split('\n\n').filter((e) => e !== '').map((e) => {
    const lines = e.split('\n')
    const name = (lines.find((l) => l.startsWith('event: ')) ?? '').slice('event: '.length)
    const data = (lines.find((l) => l.startsWith('data: ')) ?? '').slice('data: '.length)
    return [name, JSON.parse(data) as Record<string, unknown>]
  })
}

export const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex')

/** Starts a simulator for one test file; `use()` inside tests, closed by the returned hook. */
export async function start(config: SimulatorConfigInput = {}, clock?: FakeClock): Promise<Simulator> {
  return startSimulator({ port: 0, config, clock })
}

/** True when the text holds at least one character outside ASCII that takes 2, 3 or 4 UTF-8 bytes. */
export const hasMultiByte = (text: string): boolean => Buffer.byteLength(text) > text.length
