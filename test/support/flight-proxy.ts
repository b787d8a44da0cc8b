import { createConnection, createServer, type Server, type Socket } from 'node:net'

// A TCP relay on 127.0.0.1 in front of a Redis, counting "flights": bursts of bytes a client
// sends before it has heard anything back. Commands a client writes in one turn without waiting
// for each other's answers are one flight (one round trip of latency, however many commands);
// a command sent only after an answer came back starts another. Counted over all connections.

export class FlightProxy {
  flights = 0
  readonly sockets = new Set<Socket>()
  /** Connections whose last bytes went to Redis with no answer back yet. */
  #waiting = 0
  #onIdle: (() => void)[] = []
  /** Commands named in `until` calls, as sent so far, and who waits for a count of them. */
  readonly #sent = new Map<string, number>()
  #onSent: { name: string; count: number; resolve: () => void }[] = []

  private constructor(
    readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number): Promise<FlightProxy> {
    let proxy: FlightProxy | null = null
    const server = createServer((client) => {
      const upstream = createConnection({ host: '127.0.0.1', port: targetPort })
      // Whether this connection's last bytes went back to the client: its next bytes begin a flight.
      let answered = true
      client.on('data', (chunk) => {
        if (answered && proxy !== null) {
          proxy.flights++
          proxy.#waiting++
        }
        answered = false
        if (proxy !== null) proxy.#count(chunk)
        upstream.write(chunk)
      })
      upstream.on('data', (chunk) => {
        if (!answered && proxy !== null) proxy.#answered()
        answered = true
        client.write(chunk)
      })
      for (const s of [client, upstream]) {
        proxy?.sockets.add(s)
        s.on('error', () => {
          client.destroy()
          upstream.destroy()
        })
        s.on('close', () => {
          proxy?.sockets.delete(s)
          client.destroy()
          upstream.destroy()
        })
      }
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    proxy = new FlightProxy(server, (server.address() as { port: number }).port)
    return proxy
  }

  /**
   * Resolves once clients have sent `count` commands `name` (as RESP writes it, e.g. 'ZREM') in
   * all, and every connection has heard back since: an earlier request's traffic that follows
   * its answer is then over.
   */
  async until(name: string, count: number): Promise<void> {
    if (!this.#sent.has(name)) this.#sent.set(name, 0)
    if ((this.#sent.get(name) as number) < count) await new Promise<void>((resolve) => this.#onSent.push({ name, count, resolve }))
    await this.idle()
  }

  #count(chunk: Buffer): void {
    if (this.#sent.size === 0) return
    const text = chunk.toString('latin1')
    for (const [name, before] of this.#sent) {
      const marker = `\r\n${name}\r\n`
      let n = before
      for (let at = text.indexOf(marker); at >= 0; at = text.indexOf(marker, at + marker.length)) n++
      this.#sent.set(name, n)
    }
    this.#onSent = this.#onSent.filter((w) => {
      if ((this.#sent.get(w.name) as number) < w.count) return true
      w.resolve()
      return false
    })
  }

  /** Resolves once every connection has heard back from Redis since it last sent something. */
  idle(): Promise<void> {
    if (this.#waiting === 0) return Promise.resolve()
    return new Promise((resolve) => this.#onIdle.push(resolve))
  }

  #answered(): void {
    if (--this.#waiting > 0) return
    const waiting = this.#onIdle
    this.#onIdle = []
    for (const resolve of waiting) resolve()
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}/0`
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }
}
