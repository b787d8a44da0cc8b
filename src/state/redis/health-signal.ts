import type { Clock, TimerHandle, Timers } from '../../core/clock.js'
import type { StateHealth } from '../health.js'

// Whether Redis answers, as one signal that does not flap. The request path reads it to skip
// Redis altogether while it is down (each instance keeps to its share of every limit), so it
// must neither go down on one slow call — on a loaded 2-core machine a call times out now and
// then, and a whole cluster on per-instance shares for seconds is a worse error than that
// call's own fall-back — nor stay up while every request waits out the state timeout on a
// Redis that hangs. Down: the connection closed, or calls kept failing across separate round
// trips. Up again: only after background checks (one PING per period, never one per request)
// answered several times in a row.

/**
 * Calls in a row that failed (timed out, or found Redis unable to serve) before it is down —
 * and the run must also last one state timeout: a failure that late was sent after the first of
 * the run had failed, so Redis stayed silent across separate round trips. One failure is noise
 * under load, and calls in flight together that time out together (one stall of this process,
 * one GC pause) are one event, however many they are.
 */
export const failuresToDown = 3
/** While down, one PING this often. */
export const checkEveryMs = 500
/** PINGs in a row answered before it is up again: a Redis that answers once between stalls is not back. */
export const checksToUp = 2

export interface HealthSignalOptions {
  readonly clock: Clock
  readonly timers: Timers
  /** The state timeout (every call fails by then). */
  readonly timeoutMs: number
  /** The background check while down (a PING): resolves when Redis answered within the timeout. */
  readonly check: () => Promise<unknown>
  /** Called once per change, with the cause when it went down. */
  readonly onChange?: (up: boolean, cause: Error | null) => void
}

export class HealthSignal implements StateHealth {
  readonly #clock: Clock
  readonly #timers: Timers
  readonly #failingForMs: number
  readonly #check: () => Promise<unknown>
  readonly #onChange: (up: boolean, cause: Error | null) => void
  #listeners: readonly ((up: boolean) => void)[] = []
  #up = false
  /** Up once before: a reconnect after an outage is checked, the first connect is not. */
  #wasUp = false
  #failures = 0
  #failingSince = 0
  #passes = 0
  #timer: TimerHandle | null = null
  #checking = false
  #closed = false
  /** Checks sent while down (for tests and /status: the cost of being down is these, not requests). */
  checks = 0

  constructor(opts: HealthSignalOptions) {
    this.#clock = opts.clock
    this.#timers = opts.timers
    this.#failingForMs = opts.timeoutMs
    this.#check = opts.check
    this.#onChange = opts.onChange ?? (() => {})
  }

  get up(): boolean {
    return this.#up
  }

  onChange(fn: (up: boolean) => void): () => void {
    this.#listeners = [...this.#listeners, fn]
    return () => {
      this.#listeners = this.#listeners.filter((l) => l !== fn)
    }
  }

  /** A call answered: any run of failures is over. (While down only the checks count.) */
  answered(): void {
    this.#failures = 0
  }

  /** A call timed out, or Redis could not serve it (LOADING, BUSY …). */
  failed(cause: Error): void {
    if (!this.#up) return
    const now = this.#clock.now()
    if (this.#failures === 0) this.#failingSince = now
    this.#failures++
    if (this.#failures >= failuresToDown && now - this.#failingSince >= this.#failingForMs) this.#down(cause)
  }

  /** The connection closed or is not there: nothing can be answered, down at once. */
  lost(cause: Error): void {
    if (this.#up) this.#down(cause)
  }

  /** The connection is (again) ready: up at once the first time; after an outage, checked now. */
  connected(): void {
    if (this.#closed || this.#up) return
    if (!this.#wasUp) return this.#set(true, null)
    if (this.#timer !== null) this.#timers.clearTimeout(this.#timer)
    this.#timer = null
    this.#runCheck()
  }

  close(): void {
    this.#closed = true
    if (this.#timer !== null) this.#timers.clearTimeout(this.#timer)
    this.#timer = null
    this.#set(false, null)
  }

  #down(cause: Error): void {
    this.#passes = 0
    this.#set(false, cause)
    this.#arm()
  }

  #arm(): void {
    if (this.#timer !== null || this.#closed || this.#up) return
    this.#timer = this.#timers.setTimeout(() => {
      this.#timer = null
      this.#runCheck()
    }, checkEveryMs)
  }

  #runCheck(): void {
    if (this.#checking || this.#closed || this.#up) return
    this.#checking = true
    this.checks++
    this.#check().then(
      () => this.#checked(true),
      () => this.#checked(false),
    )
  }

  #checked(answered: boolean): void {
    this.#checking = false
    if (this.#closed || this.#up) return
    this.#passes = answered ? this.#passes + 1 : 0
    if (this.#passes < checksToUp) return this.#arm()
    this.#passes = 0
    this.#set(true, null)
  }

  #set(up: boolean, cause: Error | null): void {
    if (up && this.#closed) return
    if (up === this.#up) return
    this.#up = up
    if (up) {
      this.#wasUp = true
      this.#failures = 0
    }
    this.#onChange(up, cause)
    for (const l of this.#listeners) l(up)
  }
}
