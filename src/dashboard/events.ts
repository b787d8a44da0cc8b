import type { ServerResponse } from 'node:http'
import { every, systemTimers, type Timers } from '../core/clock.js'

// One server-sent-events stream per open dashboard, all fed by one timer that runs only while
// someone watches: with nobody connected nothing is built, serialised or sent.

interface Subscriber {
  readonly res: ServerResponse
  /** False once the viewer's session ended: the stream is then closed. */
  readonly alive: () => boolean
}

export interface EventHubOptions {
  /** Builds the payload of one tick (once, whatever the number of viewers). */
  readonly tick: () => Promise<unknown>
  readonly intervalMs?: number
  readonly timers?: Timers
  readonly onError?: (err: unknown) => void
}

export class EventHub {
  readonly #subscribers = new Set<Subscriber>()
  readonly #opts: EventHubOptions
  #stopTimer: (() => void) | null = null
  #busy = false
  /** Ticks built so far: a test reads it to see that nothing runs while nobody watches. */
  ticks = 0

  constructor(opts: EventHubOptions) {
    this.#opts = opts
  }

  get watchers(): number {
    return this.#subscribers.size
  }

  /** Starts a stream on `res`; the first tick follows at once when nobody was watching. */
  subscribe(res: ServerResponse, alive: () => boolean): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
      connection: 'keep-alive',
    })
    res.write('retry: 3000\n\n')
    const sub: Subscriber = { res, alive }
    this.#subscribers.add(sub)
    res.on('close', () => {
      this.#subscribers.delete(sub)
      if (this.#subscribers.size === 0) this.#stop()
    })
    if (this.#stopTimer === null) {
      this.#stopTimer = every(this.#opts.timers ?? systemTimers, this.#opts.intervalMs ?? 1_000, () => void this.#tick())
      void this.#tick()
    }
  }

  /** Ends every stream (shutdown). */
  close(): void {
    for (const s of this.#subscribers) s.res.end()
    this.#subscribers.clear()
    this.#stop()
  }

  #stop(): void {
    this.#stopTimer?.()
    this.#stopTimer = null
  }

  async #tick(): Promise<void> {
    // A slow database must not stack ticks up: skip one instead.
    if (this.#busy || this.#subscribers.size === 0) return
    this.#busy = true
    try {
      this.ticks++
      const frame = `event: tick\ndata: ${JSON.stringify(await this.#opts.tick())}\n\n`
      for (const s of this.#subscribers) {
        if (!s.alive()) {
          s.res.end('event: expired\ndata: {}\n\n')
          this.#subscribers.delete(s)
        } else {
          s.res.write(frame)
        }
      }
      if (this.#subscribers.size === 0) this.#stop()
    } catch (err) {
      this.#opts.onError?.(err)
    } finally {
      this.#busy = false
    }
  }
}
