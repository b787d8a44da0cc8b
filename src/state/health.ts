/**
 * Whether shared state can be reached. A later wiring reads `up` to choose between the shared
 * limits and the per-instance shares (limit ÷ live instances), and reports it in readiness.
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
