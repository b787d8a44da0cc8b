/**
 * Whether shared state can be reached. The request path reads `up` to choose between the shared
 * limits and the per-instance shares (limit ÷ live instances) without calling Redis while it is
 * down, and readiness reports it; so it must not flap (Redis: src/state/redis/health-signal.ts).
 */
export interface StateHealth {
  readonly up: boolean
  /** Told once per change; returns an unsubscribe function. */
  onChange(fn: (up: boolean) => void): () => void
}

/** In-process state is always reachable. */
export const alwaysUp: StateHealth = Object.freeze({
  up: true,
  onChange: () => () => {},
})
