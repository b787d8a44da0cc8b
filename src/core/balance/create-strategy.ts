import { WeightedRoundRobin } from './weighted-round-robin.js'
import { LowestLatency } from './latency.js'
import { LeastBusy } from './least-busy.js'
import { MetricsAware } from './metrics.js'
import { PowerOfTwoChoices } from './p2c.js'
import { WeightedRandom } from './random.js'
import { RendezvousHash } from './rendezvous.js'
import { RoundRobin } from './round-robin.js'
import type { Strategy, StrategyName } from './strategy.js'

/** The strategy a model uses when its config names none (issue 4, DESIGN.md §6). */
export const defaultStrategy: StrategyName = 'p2c'

/** A fresh strategy with its own state; build one per model pool, at config compile time. */
export function createStrategy(name: StrategyName): Strategy {
  switch (name) {
    case 'round-robin': return new RoundRobin()
    case 'weighted': return new WeightedRoundRobin()
    case 'least-busy': return new LeastBusy()
    case 'p2c': return new PowerOfTwoChoices()
    case 'latency': return new LowestLatency()
    case 'random': return new WeightedRandom()
    case 'hash': return new RendezvousHash()
    // Fed by the caller: a vLLM /metrics scraper outside core/ fills the candidates' queueDepth,
    // serverRunning and cacheUsage; without them it balances as least-busy.
    case 'metrics': return new MetricsAware()
    default: throw new Error(`unknown balancing strategy "${String(name satisfies never)}"`)
  }
}
