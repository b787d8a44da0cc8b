/** Monotonic milliseconds. Injected everywhere time matters, so tests can drive time by hand. */
export interface Clock {
  now(): number
}

export const systemClock: Clock = { now: () => performance.now() }
