import type { Dispatcher } from 'undici'
import { Pool } from './dispatchers.js'

export interface PoolSpec {
  readonly origin: string
  readonly connections: number
  readonly connectTimeoutMs: number
}

/**
 * Upstream connection pools outlive config generations: a reload that keeps an origin keeps
 * its warm keep-alive sockets. Pools no generation uses any more are closed gracefully
 * (in-flight requests finish first).
 */
export class UpstreamPools {
  readonly #pools = new Map<string, Pool>()

  get(spec: PoolSpec): Dispatcher {
    const id = `${spec.origin}|${spec.connections}|${spec.connectTimeoutMs}`
    let pool = this.#pools.get(id)
    if (!pool) {
      pool = new Pool(spec.origin, {
        connections: spec.connections,
        pipelining: 1,
        keepAliveTimeout: 30_000,
        keepAliveMaxTimeout: 600_000,
        connect: { timeout: spec.connectTimeoutMs, noDelay: true },
      })
      this.#pools.set(id, pool)
    }
    return pool
  }

  /** Close every pool not in `inUse`. */
  retain(inUse: ReadonlySet<Dispatcher>): void {
    for (const [id, pool] of this.#pools) {
      if (inUse.has(pool)) continue
      this.#pools.delete(id)
      void pool.close().catch(() => undefined)
    }
  }

  async close(): Promise<void> {
    const pools = [...this.#pools.values()]
    this.#pools.clear()
    await Promise.all(pools.map((p) => p.close().catch(() => p.destroy())))
  }

  async destroy(): Promise<void> {
    const pools = [...this.#pools.values()]
    this.#pools.clear()
    await Promise.all(pools.map((p) => p.destroy().catch(() => undefined)))
  }
}
