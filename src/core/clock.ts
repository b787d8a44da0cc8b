/** Monotonic milliseconds. Injected everywhere time matters, so tests can drive time by hand. */
export interface Clock {
  now(): number
}

export const systemClock: Clock = { now: () => performance.now() }

/** Opaque handle from `Timers.setTimeout`. */
export type TimerHandle = unknown

/**
 * setTimeout/clearTimeout, injected beside the Clock wherever something waits (queue
 * deadlines, wake-ups, probes, writers), so a test moves both by hand with one fake.
 */
export interface Timers {
  setTimeout(fn: () => void, ms: number): TimerHandle
  clearTimeout(handle: TimerHandle): void
}

/**
 * Node's timers, unref'd: what waits in the background of a server (a probe, a write, a
 * queued request's deadline) never holds a shutting-down process open by itself; the server's
 * sockets do that while there is work.
 */
export const systemTimers: Timers = {
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms)
    t.unref()
    return t
  },
  clearTimeout(handle) {
    clearTimeout(handle as NodeJS.Timeout)
  },
}

/** Runs `fn` every `ms` on `timers` until the returned function is called. */
export function every(timers: Timers, ms: number, fn: () => void): () => void {
  let handle: TimerHandle | null = null
  let stopped = false
  const tick = (): void => {
    if (stopped) return
    handle = timers.setTimeout(tick, ms)
    fn()
  }
  handle = timers.setTimeout(tick, ms)
  return () => {
    stopped = true
    if (handle !== null) timers.clearTimeout(handle)
    handle = null
  }
}
