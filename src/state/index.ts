// The shared-state ports (DESIGN.md §6 "Several instances"), and the one function main.ts
// would call to build them from the `state:` setting.

import { createMemoryState } from './memory/index.js'
import type { StateSettings } from './settings.js'
import type { SharedState } from './shared-state.js'

export type { BreakerCommand, BreakerPolicy, BreakerView, SharedBreakers, SharedBreakerState, TrialVerdict } from './breakers.js'
export type { ConsumerRates, RateStanding, SharedAdmitDecision } from './consumer-rates.js'
export { StateScriptError, StateUnavailableError } from './errors.js'
export { alwaysUp, type StateHealth } from './health.js'
export { heartbeatEveryMs, instanceTtlMs, type InstanceRegistry, type LiveInstance } from './instances.js'
export type { Invalidation, InvalidationBus } from './invalidation.js'
export { leaderRenewMs, leaderTtlMs, type LeaderElection, type LeaderInfo, type Leadership } from './leader.js'
export { LeaseKeeper, type LeasedGrant } from './lease-keeper.js'
export type { PaceGrant, SharedPacing } from './pacing.js'
export { leaseTtlMs, renewEveryMs, type LeaseCount, type LeaseGrant, type LeaseRef, type PermitLeases, type SharedLimit } from './permits.js'
export type { PinStore } from './pins.js'
export type { StateSettings } from './settings.js'
export type { SharedState } from './shared-state.js'
export type { SpendCounters, SpendStanding } from './spend.js'

/**
 * The ports for `state:`. Memory: this process only. Redis: connected before it returns; a Redis
 * that cannot be reached rejects with StateUnavailableError naming where it looked (never the
 * password), and the caller decides whether to start degraded.
 */
export async function openSharedState(settings: StateSettings, opts: { instanceId?: string; onHealth?: (up: boolean, cause: Error | null) => void } = {}): Promise<SharedState> {
  if (settings.kind === 'memory') return createMemoryState(opts.instanceId === undefined ? {} : { instanceId: opts.instanceId })
  // Loaded only for `state: redis`: ioredis costs ~20 MB of resident memory in every process otherwise.
  const { createRedisState } = await import('./redis/index.js')
  const state = createRedisState(settings, opts)
  try {
    await state.connect()
  } catch (err) {
    await state.close()
    throw err
  }
  return state
}
