/** Opaque handle from `Timers.setTimeout`. */
export type TimerHandle = unknown

/**
 * setTimeout/clearTimeout, injected so tests move time by hand. The health checks run in the
 * background of a server that keeps the process alive by itself, so the system timers are
 * unref'd: a pending probe never holds a shutting-down process open.
 */
export interface Timers {
  setTimeout(fn: () => void, ms: number): TimerHandle
  clearTimeout(handle: TimerHandle): void
}

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
