import type { SharedBreakers } from './breakers.js'
import type { ConsumerRates } from './consumer-rates.js'
import type { StateHealth } from './health.js'
import type { InstanceRegistry } from './instances.js'
import type { InvalidationBus } from './invalidation.js'
import type { LeaderElection } from './leader.js'
import type { SharedPacing } from './pacing.js'
import type { PermitLeases } from './permits.js'
import type { PinStore } from './pins.js'
import type { SpendCounters } from './spend.js'

/** Every shared-state port, as one instance sees them: what main.ts would build from `state:`. */
export interface SharedState {
  /** memory: one process, and the request path keeps its in-process counters; redis: several instances. */
  readonly kind: 'memory' | 'redis'
  /** This instance, as leases, trials and the registry name it. */
  readonly instanceId: string
  readonly permits: PermitLeases
  readonly pacing: SharedPacing
  readonly breakers: SharedBreakers
  readonly leaders: LeaderElection
  readonly consumerRates: ConsumerRates
  readonly spend: SpendCounters
  readonly pins: PinStore
  readonly instances: InstanceRegistry
  readonly invalidation: InvalidationBus
  readonly health: StateHealth
  close(): Promise<void>
}
