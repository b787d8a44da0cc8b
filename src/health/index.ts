// Active health: probes for keys that are out of service, and the load of self-hosted vLLM
// servers for the `metrics` balancing strategy (DESIGN.md §6, Balancing and Failover).
export type { BreakerEvents, HealthFailure, ProbeBreaker } from './breaker-port.js'
export { Prober, probeJitter, type ProbePacer, type ProbeResult, type ProbeStats, type ProbeTarget, type ProberOptions } from './prober.js'
export { probeRequest, type ProbeDialect, type ProbeRequest } from './probe-request.js'
export { VllmMetricsScraper, staleAfterIntervals, type VllmLoad, type VllmMetricsOptions } from './vllm-metrics.js'
export { parseSamples, parseVllmMetrics, type VllmGauges } from './prometheus.js'
export { systemTimers, type TimerHandle, type Timers } from '../core/clock.js'
