import type { Candidate } from './candidate.js'

/** The names a model's `strategy` may take (issue 4). */
export const strategyNames = ['round-robin', 'weighted', 'least-busy', 'p2c', 'latency', 'random', 'hash', 'metrics'] as const
export type StrategyName = (typeof strategyNames)[number]

/**
 * Chooses one deployment among candidates that are all eligible right now (breaker, pacer and
 * permit already checked by the caller). One instance per model pool: round-robin cursors and
 * smooth-WRR counters are state, and sharing them across pools would skew both.
 */
export interface Strategy {
  readonly name: StrategyName
  /**
   * The index in `candidates` to send to, or -1 when the array is empty. `key` is the
   * affinity key (session id, consumer or client IP) and matters only to `hash`; `rand`
   * returns [0, 1) like Math.random and is injected so tests replay exactly.
   */
  pick(candidates: readonly Candidate[], key: string | null, rand: () => number): number
}
