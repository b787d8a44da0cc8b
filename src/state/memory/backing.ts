import { ConsumerLimiter } from '../../core/admit/consumer-limiter.js'
import type { Invalidation } from '../invalidation.js'
import type { SharedBreakerState } from '../breakers.js'

/**
 * What the memory adapters keep, in one object: one process's state, and in the conformance
 * suites several "instances" over the same backing. `now` is the wall clock in epoch ms, the
 * in-process stand-in for Redis TIME (injected so tests step it).
 */
export class MemoryBacking {
  /** keyId → lease id → expiry. */
  readonly leases = new Map<string, Map<string, number>>()
  /** Each key's shared concurrency limit and when it is forgotten. */
  readonly leaseLimits = new Map<string, { limit: number; accepted: number | null; generation: number; fixedUntil: number; until: number }>()
  /** Each key's shared GCRA schedule: requests and tokens TATs, and a pause. */
  readonly paces = new Map<string, { requests: number; tokens: number; pausedUntil: number }>()
  readonly breakers = new Map<string, BreakerRecord>()
  readonly leaders = new Map<string, { holder: string; until: number; epoch: number }>()
  readonly limiters = new Map<string, { limiter: ConsumerLimiter; rpm: number | null; tpm: number | null }>()
  readonly spend = new Map<string, { start: number; pico: number; seeded: boolean }>()
  readonly pins = new Map<string, { keyId: string; until: number }>()
  readonly heartbeats = new Map<string, number>()
  listeners: readonly ((event: Invalidation) => void)[] = []

  constructor(readonly now: () => number = Date.now) {}
}

export interface BreakerRecord {
  state: SharedBreakerState
  openUntil: number
  opens: number
  successes: number
  trial: string | null
  trialUntil: number
  reason: 'auth' | 'admin' | null
  fence: number
}
