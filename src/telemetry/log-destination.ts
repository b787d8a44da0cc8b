import { write as fsWrite, writeSync as fsWriteSync } from 'node:fs'
import { systemTimers, type Timers } from '../core/clock.js'

/** The two system calls the destination makes; a test replaces them to play a slow or full pipe. */
export interface FdWriter {
  write(fd: number, buffer: Buffer, offset: number, length: number, done: (err: NodeJS.ErrnoException | null, written: number) => void): void
  writeSync(fd: number, buffer: Buffer, offset: number, length: number): number
}

const nodeWriter: FdWriter = {
  write: (fd, buffer, offset, length, done) => fsWrite(fd, buffer, offset, length, null, done),
  writeSync: (fd, buffer, offset, length) => fsWriteSync(fd, buffer, offset, length),
}

export interface BatchedDestinationOptions {
  /** The longest a line waits in memory before it is written. */
  readonly maxDelayMs?: number
  /** Bytes gathered into one write. */
  readonly chunkBytes?: number
  /** Bytes waiting to be written at most (a stalled reader of stdout); lines beyond are dropped and counted. */
  readonly maxPendingBytes?: number
  /** How long to wait before writing again to a pipe that was full (EAGAIN). */
  readonly retryMs?: number
  readonly io?: FdWriter
  readonly timers?: Timers
}

/**
 * Stdout for JSON log lines, batched: lines are encoded straight into a reused buffer, and a
 * full buffer (or the oldest line reaching `maxDelayMs`) leaves in one asynchronous write(), one
 * at a time and in order. Nothing runs while nothing is logged. Encoding into a buffer rather
 * than concatenating strings (as pino's sonic-boom does) costs a tenth of the CPU per line, which
 * matters because the access log writes one line per request.
 */
export class BatchedDestination {
  readonly #fd: number
  readonly #maxDelayMs: number
  readonly #chunkBytes: number
  readonly #maxPendingBytes: number
  readonly #retryMs: number
  readonly #io: FdWriter
  readonly #timers: Timers
  #buffer: Buffer
  #length = 0
  /** Filled buffers, oldest first; the first is being written from `#offset` while `#writing`. */
  readonly #sealed: Buffer[] = []
  #sealedBytes = 0
  #offset = 0
  /** An asynchronous write() is out. */
  #writing = false
  /** Waiting out a full pipe before writing again. */
  #retrying = false
  /** A retired buffer kept for the next chunk, so a steady log allocates nothing. */
  #spare: Buffer | null = null
  #timerArmed = false
  #broken = false
  #dropped = 0
  #flushed: Array<(err?: Error) => void> = []

  readonly #onTimer = (): void => {
    this.#timerArmed = false
    this.#seal()
    this.#pump()
  }

  readonly #onWritten = (err: NodeJS.ErrnoException | null, written: number): void => {
    this.#writing = false
    if (err !== null) {
      if (err.code === 'EAGAIN') {
        // A full pipe: try again shortly, keeping every line (up to maxPendingBytes).
        this.#retrying = true
        this.#timers.setTimeout(this.#onRetry, this.#retryMs)
        return
      }
      // stdout is gone (EPIPE, EBADF): nothing more can be written anywhere.
      this.#break()
      return
    }
    this.#offset += written
    const head = this.#sealed[0] as Buffer
    if (this.#offset >= head.length) {
      this.#sealed.shift()
      this.#sealedBytes -= head.length
      this.#offset = 0
      this.#recycle(head)
    }
    this.#pump()
  }

  readonly #onRetry = (): void => {
    if (!this.#retrying) return // flushSync() wrote it meanwhile
    this.#retrying = false
    this.#pump()
  }

  constructor(fd = 1, opts: BatchedDestinationOptions = {}) {
    this.#fd = fd
    this.#maxDelayMs = opts.maxDelayMs ?? 50
    this.#chunkBytes = opts.chunkBytes ?? 64 * 1024
    this.#maxPendingBytes = opts.maxPendingBytes ?? 16 * 1024 * 1024
    this.#retryMs = opts.retryMs ?? 10
    this.#io = opts.io ?? nodeWriter
    this.#timers = opts.timers ?? systemTimers
    this.#buffer = Buffer.allocUnsafe(this.#chunkBytes)
  }

  /** Lines dropped because stdout was gone or its reader fell `maxPendingBytes` behind. */
  get dropped(): number {
    return this.#dropped
  }

  write(line: string): boolean {
    if (this.#broken || this.#sealedBytes > this.#maxPendingBytes) {
      this.#dropped++
      return false
    }
    // UTF-8 takes at most 3 bytes per UTF-16 unit: a line that might not fit seals the buffer first.
    const worst = line.length * 3
    if (this.#length + worst > this.#buffer.length) {
      this.#seal()
      if (worst > this.#buffer.length) {
        this.#push(Buffer.from(line, 'utf8'))
        this.#pump()
        return true
      }
    }
    this.#length += this.#buffer.write(line, this.#length)
    if (!this.#timerArmed) {
      this.#timerArmed = true
      this.#timers.setTimeout(this.#onTimer, this.#maxDelayMs)
    }
    if (this.#sealed.length > 0) this.#pump()
    return true
  }

  /** Writes what is buffered; `done` runs once all of it has left (or could not). */
  flush(done?: (err?: Error) => void): void {
    this.#seal()
    if (done !== undefined) {
      if (this.#sealed.length === 0 || this.#broken) done()
      else this.#flushed.push(done)
    }
    this.#pump()
  }

  /**
   * Before process.exit(): writes everything still held, synchronously. A write already handed
   * to the thread pool still lands, possibly after what this writes.
   */
  flushSync(): void {
    this.#seal()
    this.#retrying = false
    const from = this.#writing ? 1 : 0
    const deadline = Date.now() + 1_000
    for (let i = from; i < this.#sealed.length && !this.#broken; i++) {
      const chunk = this.#sealed[i] as Buffer
      let offset = i === 0 ? this.#offset : 0
      while (offset < chunk.length) {
        try {
          offset += this.#io.writeSync(this.#fd, chunk, offset, chunk.length - offset)
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EAGAIN' || Date.now() > deadline) {
            this.#broken = true
            break
          }
        }
      }
    }
    this.#sealed.length = from
    this.#sealedBytes = from === 1 ? (this.#sealed[0] as Buffer).length : 0
  }

  #seal(): void {
    if (this.#length === 0) return
    this.#push(this.#buffer.subarray(0, this.#length))
    this.#buffer = this.#spare ?? Buffer.allocUnsafe(this.#chunkBytes)
    this.#spare = null
    this.#length = 0
  }

  #push(chunk: Buffer): void {
    this.#sealed.push(chunk)
    this.#sealedBytes += chunk.length
  }

  #recycle(chunk: Buffer): void {
    if (this.#spare === null && chunk.buffer.byteLength === this.#chunkBytes && chunk.byteOffset === 0) this.#spare = Buffer.from(chunk.buffer, 0, this.#chunkBytes)
  }

  #pump(): void {
    if (this.#writing || this.#retrying || this.#broken) return
    const head = this.#sealed[0]
    if (head === undefined) {
      const waiting = this.#flushed
      if (waiting.length > 0) {
        this.#flushed = []
        for (const done of waiting) done()
      }
      return
    }
    this.#writing = true
    this.#io.write(this.#fd, head, this.#offset, head.length - this.#offset, this.#onWritten)
  }

  #break(): void {
    this.#broken = true
    this.#seal()
    for (let i = 0; i < this.#sealed.length; i++) {
      const chunk = this.#sealed[i] as Buffer
      this.#dropped += countLines(i === 0 ? chunk.subarray(this.#offset) : chunk)
    }
    this.#sealed.length = 0
    this.#sealedBytes = 0
    this.#offset = 0
    const waiting = this.#flushed
    this.#flushed = []
    for (const done of waiting) done()
  }
}

function countLines(chunk: Buffer): number {
  let n = 0
  for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) n++
  return n
}
