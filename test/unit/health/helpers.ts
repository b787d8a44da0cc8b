import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import type { HealthFailure, ProbeBreaker } from '../../../src/health/index.js'

export { FakeTime } from '../../support/fake-time.js'

export interface SeenRequest {
  readonly method: string
  readonly path: string
  readonly headers: IncomingMessage['headers']
  readonly body: string
  readonly remotePort: number
  /** FakeTime's clock when the request arrived (set by the test's time, if given). */
  readonly at: number
}

export type Reply = (req: IncomingMessage, res: ServerResponse, body: string) => void

/** A tiny upstream on 127.0.0.1 whose answer each test decides. */
export class TestUpstream {
  readonly seen: SeenRequest[] = []
  reply: Reply = (_req, res) => json(res, 200, { id: 'ok', choices: [] })
  readonly #sockets = new Set<Socket>()
  readonly #server: Server
  #waiters: (() => void)[] = []
  /** Requests whose response is held open (for timeouts), closed at the end. */
  readonly held: ServerResponse[] = []

  private constructor(readonly time: { now(): number } | null) {
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8')
        this.seen.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body, remotePort: req.socket.remotePort ?? 0, at: this.time?.now() ?? 0 })
        this.reply(req, res, body)
        const waiters = this.#waiters
        this.#waiters = []
        for (const w of waiters) w()
      })
    })
    this.#server.on('connection', (s: Socket) => {
      this.#sockets.add(s)
      s.on('close', () => this.#sockets.delete(s))
    })
  }

  static async start(time: { now(): number } | null = null): Promise<TestUpstream> {
    const u = new TestUpstream(time)
    await new Promise<void>((resolve) => u.#server.listen(0, '127.0.0.1', resolve))
    return u
  }

  get origin(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`
  }

  get openSockets(): number {
    return this.#sockets.size
  }

  /** Resolves once `n` requests have arrived in all. */
  async waitForRequests(n: number): Promise<void> {
    while (this.seen.length < n) await new Promise<void>((resolve) => this.#waiters.push(resolve))
  }

  async close(): Promise<void> {
    for (const res of this.held) res.destroy()
    for (const s of this.#sockets) s.destroy()
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }
}

export function json(res: ServerResponse, status: number, value: unknown): void {
  const body = Buffer.from(JSON.stringify(value))
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': body.length })
  res.end(body)
}

/** A breaker whose wish for probes the test sets, recording what the prober tells it. */
export class FakeBreaker implements ProbeBreaker {
  wants = false
  readonly passed: number[] = []
  readonly failed: [number, HealthFailure][] = []
  constructor(readonly id: string, private readonly events: FakeBreakers) {}
  wantsProbe(_now: number): boolean {
    return this.wants
  }
  probePassed(now: number): void {
    this.passed.push(now)
  }
  probeFailed(now: number, kind: HealthFailure): void {
    this.failed.push([now, kind])
  }
  /** Changes the wish and announces the transition, as a real breaker does. */
  set(wants: boolean): void {
    this.wants = wants
    this.events.emit(this)
  }
}

export class FakeBreakers {
  #listeners: ((b: ProbeBreaker) => void)[] = []
  listen(fn: (b: ProbeBreaker) => void): () => void {
    this.#listeners.push(fn)
    return () => {
      this.#listeners = this.#listeners.filter((l) => l !== fn)
    }
  }
  emit(b: ProbeBreaker): void {
    for (const l of this.#listeners) l(b)
  }
  get listeners(): number {
    return this.#listeners.length
  }
  breaker(id: string): FakeBreaker {
    return new FakeBreaker(id, this)
  }
}

/** Lets pending I/O callbacks run (a real socket answering) without moving fake time. */
export async function settle(rounds = 3): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve))
}
