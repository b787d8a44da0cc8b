import type { HealthFailure, KeyBreaker } from '../core/breaker/index.js'

// What the health checks use of the breakers (src/core/breaker/). KeyBreaker and
// BreakerRegistry satisfy these; a test may hand in a smaller fake.

export type { HealthFailure }

/** One key's breaker, as a prober sees it. */
export type ProbeBreaker = Pick<KeyBreaker, 'id' | 'wantsProbe' | 'probePassed' | 'probeFailed'>

/** Where breaker transitions are announced (BreakerRegistry.listen). */
export interface BreakerEvents {
  /** Calls `fn` on every transition of any breaker; returns the unsubscribe function. */
  listen(fn: (breaker: ProbeBreaker) => void): () => void
}
