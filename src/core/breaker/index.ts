export { defaultBreakerSettings, hardFailures, type BreakerSettings, type BreakerState, type DisableReason, type HealthFailure } from './types.js'
export { consecutiveThreshold, KeyBreaker } from './key-breaker.js'
export { ejectionCap, mayEject, undemotedFirst, type GroupMember } from './ejection-cap.js'
export { BreakerRegistry, breakerId } from './registry.js'
