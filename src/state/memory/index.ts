import { alwaysUp } from '../health.js'
import { newInstanceId } from '../instance-id.js'
import type { SharedState } from '../shared-state.js'
import { MemoryBacking } from './backing.js'
import { MemorySharedBreakers } from './breakers.js'
import { MemoryConsumerRates } from './consumer-rates.js'
import { MemoryInstanceRegistry } from './instances.js'
import { MemoryInvalidationBus } from './invalidation.js'
import { MemoryLeaderElection } from './leader.js'
import { MemorySharedPacing } from './pacing.js'
import { MemoryPermitLeases } from './permits.js'
import { MemoryPinStore } from './pins.js'
import { MemorySpendCounters } from './spend.js'

export { MemoryBacking }

export interface MemoryStateOptions {
  /** Shared by the "instances" of a test; one per process in service. */
  readonly backing?: MemoryBacking
  readonly instanceId?: string
}

/** Every port in this process: one instance, or several over one backing in the conformance suites. */
export function createMemoryState(opts: MemoryStateOptions = {}): SharedState {
  const backing = opts.backing ?? new MemoryBacking()
  const instanceId = opts.instanceId ?? newInstanceId()
  return {
    kind: 'memory',
    instanceId,
    permits: new MemoryPermitLeases(backing, instanceId),
    pacing: new MemorySharedPacing(backing),
    breakers: new MemorySharedBreakers(backing),
    leaders: new MemoryLeaderElection(backing),
    consumerRates: new MemoryConsumerRates(backing),
    spend: new MemorySpendCounters(backing),
    pins: new MemoryPinStore(backing),
    instances: new MemoryInstanceRegistry(backing),
    invalidation: new MemoryInvalidationBus(backing),
    health: alwaysUp,
    close: async () => {},
  }
}
