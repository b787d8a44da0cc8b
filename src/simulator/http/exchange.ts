import { createHash, type Hash } from 'node:crypto'
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http'
import type { Ledger, Outcome } from '../record/stats.js'

/**
 * One request and its response. It owns everything that must stop when the client goes away:
 * the pending timer (pacing or a stall) and the wait for 'drain'. Every body byte written goes
 * through it, so the record's byte count and SHA-256 are exactly what was handed to the socket.
 */
export class Exchange {
  keyId = '(none)'
  ledger: Ledger | null = null
  /** Set once the request passed the limits: it counts as in flight until its last byte is written (or it ends otherwise). */
  admitted = false
  /** When it stopped counting against its key's concurrency (its last byte written); null before. */
  releasedAt: number | null = null
  /** An explicit outcome (rate limited, injected fault); otherwise derived from the status. */
  outcome: Outcome | null = null
  model: string | null = null
  stream = false
  bodyJson: unknown = null

  readonly #hash: Hash = createHash('sha256')
  #bytes = 0
  #closed = false
  #resetByUs = false
  // One slot per kind of wait, so a late 'drain' or write callback can never end a different wait early.
  #afterDrain: (() => void) | null = null
  #afterFlush: (() => void) | null = null
  #afterTimer: (() => void) | null = null
  #timer: NodeJS.Timeout | null = null
  #drainListening = false

  readonly req: IncomingMessage
  readonly res: ServerResponse
  readonly id: number
  readonly path: string
  readonly startedAt: number

  readonly #onLastByte: (ex: Exchange) => void

  constructor(opts: { req: IncomingMessage; res: ServerResponse; id: number; path: string; startedAt: number; onLastByte: (ex: Exchange) => void; onEnd: (ex: Exchange, aborted: boolean) => void }) {
    const { req, res, onEnd } = opts
    this.#onLastByte = opts.onLastByte
    this.req = req
    this.res = res
    this.id = opts.id
    this.path = opts.path
    this.startedAt = opts.startedAt
    // A write racing a client reset can make the response emit 'error' before 'close'; the
    // 'close' handler below is where that ending is recorded, so the error itself is not news.
    res.on('error', () => undefined)
    res.on('close', () => {
      this.#closed = true
      if (this.#timer !== null) clearTimeout(this.#timer)
      this.#timer = null
      for (const release of [this.#afterDrain, this.#afterFlush, this.#afterTimer]) release?.()
      this.#afterDrain = this.#afterFlush = this.#afterTimer = null
      // 'close' before the response finished means the client left, unless we cut it on purpose.
      onEnd(this, !res.writableFinished && !this.#resetByUs)
    })
  }

  get closed(): boolean {
    return this.#closed
  }

  get bytesSent(): number {
    return this.#bytes
  }

  digest(): string {
    return this.#hash.digest('hex')
  }

  writeHead(status: number, headers: OutgoingHttpHeaders): void {
    if (!this.#closed) this.res.writeHead(status, headers)
  }

  /** Writes body bytes; false means wait for drained() before writing more. */
  write(chunk: Buffer): boolean {
    if (this.#closed) return true
    this.#hash.update(chunk)
    this.#bytes += chunk.length
    return this.res.write(chunk)
  }

  /** Resolves when the socket wants more, or the exchange closed. */
  drained(): Promise<void> {
    if (this.#closed || !this.res.writableNeedDrain) return Promise.resolve()
    if (!this.#drainListening) {
      this.#drainListening = true
      this.res.on('drain', () => {
        const release = this.#afterDrain
        this.#afterDrain = null
        release?.()
      })
    }
    return new Promise((resolve) => { this.#afterDrain = resolve })
  }

  /** Writes and resolves once the bytes reached the socket: used before cutting it, and between split halves. */
  writeFlushed(chunk: Buffer): Promise<void> {
    if (this.#closed) return Promise.resolve()
    this.#hash.update(chunk)
    this.#bytes += chunk.length
    return new Promise((resolve) => {
      this.#afterFlush = resolve
      this.res.write(chunk, () => {
        this.#afterFlush = null
        resolve()
      })
    })
  }

  /** Resolves after ms, or at once when the client goes away (the timer is cleared then). */
  sleep(ms: number): Promise<void> {
    if (this.#closed || ms <= 0) return Promise.resolve()
    return new Promise((resolve) => {
      this.#afterTimer = resolve
      this.#timer = setTimeout(() => {
        this.#timer = null
        this.#afterTimer = null
        resolve()
      }, ms)
    })
  }

  end(chunk?: Buffer): void {
    if (this.#closed) return
    if (chunk !== undefined) {
      this.#hash.update(chunk)
      this.#bytes += chunk.length
    }
    this.#onLastByte(this)
    this.res.end(chunk)
  }

  /** A complete response with a known length. */
  send(status: number, headers: OutgoingHttpHeaders, body: Buffer): void {
    headers['content-length'] = body.length
    this.writeHead(status, headers)
    this.end(body)
  }

  /**
   * Cuts the connection on purpose (a fault): the client sees it close without a complete response.
   * Bytes already written are flushed first, so the record's hash is what the client received.
   */
  cut(): void {
    if (this.#closed) return
    this.#resetByUs = true
    this.outcome = 'error'
    this.req.socket.destroySoon()
  }
}
