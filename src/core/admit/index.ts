export { ConsumerRate, WINDOW_MS, type RateDecision } from './consumer-rate.js'
export { ConsumerLimiter, rateLimitHeaderNames, type AdmitDecision, type LimitDimension, type RateLimits } from './consumer-limiter.js'
export { formatResetDuration } from './reset-duration.js'
export { BudgetTracker, PriceTable, budgetPeriods, usdToPico, nextPeriodStart, periodStart, type BudgetPeriod, type ModelPrice } from './budget.js'
export { compileModelPatterns, modelAllowed, type ModelMatcher } from './model-match.js'
export {
  defaultSettings,
  effectivePriority,
  effectiveSettings,
  instanceShare,
  sameSettings,
  type ConsumerSettingsInput,
  type EffectiveSettings,
  type PriorityName,
} from './settings.js'
export { ConsumerLimits, LimiterRegistry, type ConsumerDecision, type LimiterRegistryOptions } from './registry.js'
