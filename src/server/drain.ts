import type { Server } from 'node:http'

/**
 * Graceful shutdown: stop accepting, let in-flight requests and streams finish until the
 * deadline, then cut what is left. Readiness turns 503 the moment `draining` is set.
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

  /** Resolves true when everything finished in time, false when the deadline cut it short. */
  async run(servers: readonly Server[], deadlineMs: number): Promise<boolean> {
    this.#draining = true
    for (const s of servers) {
      s.close()
      s.closeIdleConnections()
    }
    if (this.inFlight() === 0) return true
    let timer: NodeJS.Timeout | undefined
    const finished = await Promise.race([
      new Promise<boolean>((resolve) => this.#idleWaiters.push(() => resolve(true))),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), deadlineMs))),
    ])
    clearTimeout(timer)
    for (const s of servers) s.closeAllConnections()
    return finished
  }
}
