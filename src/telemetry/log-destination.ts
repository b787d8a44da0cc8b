import pino from 'pino'

/**
 * Stdout for JSON logs, batched: under load many lines leave in one write() instead of one
 * system call per line. A flush is armed only when a line is waiting, so at low traffic a
 * line appears within `maxDelayMs` and nothing runs while idle.
 */
export class BatchedDestination {
  readonly #boom: ReturnType<typeof pino.destination>
  #armed = false
  readonly #flush = (): void => {
    this.#armed = false
    this.#boom.flush()
  }

  constructor(
    fd = 1,
    private readonly maxDelayMs = 50,
  ) {
    this.#boom = pino.destination({ dest: fd, minLength: 8 * 1024, sync: false })
  }

  write(line: string): void {
    this.#boom.write(line)
    if (this.#armed) return
    this.#armed = true
    setTimeout(this.#flush, this.maxDelayMs).unref()
  }

  flush(cb?: (err?: Error) => void): void {
    this.#boom.flush(cb)
  }

  /** Before process.exit(): nothing buffered may be lost. */
  flushSync(): void {
    try {
      this.#boom.flushSync()
    } catch {
      // stdout closed: nothing left to write to
    }
  }
}
