export { defaultBreakerSettings, type BreakerSettings, type BreakerState, type DisableReason, type HealthFailure } from './types.js'
export { KeyBreaker } from './key-breaker.js'
export { BreakerRegistry, breakerId } from './registry.js'
