import { priorityNames, type Priority } from '../../core/queue/index.js'
import type { KeyPacer } from '../../core/pacer/key-pacer.js'
import type { RateLimitKind } from '../../core/pacer/classify-429.js'
import type { Metrics } from '../../telemetry/metrics.js'

/** What the scheduler records as it goes; the gauges are read from its state when scraped. */
export interface ScheduleMetrics {
  observeWait(model: string, priority: Priority, ms: number): void
  rejected(model: string, priority: Priority, reason: string): void
  refusal(pacer: KeyPacer, kind: RateLimitKind): void
  retried(reason: string): void
}

export function scheduleMetrics(metrics: Metrics | null): ScheduleMetrics {
  if (metrics === null) return { observeWait() {}, rejected() {}, refusal() {}, retried() {} }
  return {
    observeWait: (model, priority, ms) => metrics.queueWait.series(model, priorityNames[priority]).observe(ms / 1000),
    rejected: (model, priority, reason) => metrics.queueRejected.series(model, priorityNames[priority], reason).inc(),
    refusal: (pacer, kind) => metrics.upstream429.series(pacer.provider, pacer.key, kind).inc(),
    retried: (reason) => metrics.retries.series(reason).inc(),
  }
}
