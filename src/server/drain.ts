import type { Server } from 'node:http'

/** How long answers given at the drain deadline (503 shutting_down) may take to be written. */
const answerGraceMs = 1_000

/**
 * Graceful shutdown. The listener stays open while draining so that readiness probes read
 * 503 and new requests get a fast 503 shutting_down (with Connection: close) instead of a
 * refused connection; in-flight requests and streams finish until the deadline, then the
 * listener closes and whatever is left is cut.
 */
export class Drain {
  #draining = false
  #idleWaiters: (() => void)[] = []

  constructor(private readonly inFlight: () => number) {}

  get draining(): boolean {
    return this.#draining
  }

  /** The handler calls this whenever the in-flight count reaches zero. */
  notifyIdle(): void {
    const waiters = this.#idleWaiters
    this.#idleWaiters = []
    for (const w of waiters) w()
  }

  /**
   * Resolves true when everything finished in time, false when the deadline cut it short. At the
   * deadline `atDeadline` answers what can still be answered (requests waiting in a queue); those
   * answers get a moment to be written before the connections are cut.
   */
  async run(servers: readonly Server[], deadlineMs: number, atDeadline: () => number = () => 0): Promise<boolean> {
    this.#draining = true
    for (const s of servers) s.closeIdleConnections()
    let finished = true
    if (this.inFlight() > 0) {
      finished = await this.#idleWithin(deadlineMs)
      if (!finished && atDeadline() > 0) await this.#idleWithin(answerGraceMs)
    }
    await Promise.all(
      servers.map(
        (s) =>
          new Promise<void>((resolve) => {
            s.close(() => resolve())
            s.closeAllConnections()
          }),
      ),
    )
    return finished
  }

  /** True once nothing is in flight, false when `ms` pass first. */
  async #idleWithin(ms: number): Promise<boolean> {
    if (this.inFlight() === 0) return true
    let timer: NodeJS.Timeout | undefined
    const idle = await Promise.race([
      new Promise<boolean>((resolve) => this.#idleWaiters.push(() => resolve(true))),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms))),
    ])
    clearTimeout(timer)
    return idle
  }
}
