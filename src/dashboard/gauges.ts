import type { LimitRegistry } from '../core/limit/registry.js'
import type { PacerRegistry } from '../core/pacer/registry.js'
import type { Metrics } from '../telemetry/metrics.js'
import type { GaugeReader } from './history.js'

/** What the dashboard's history samples besides its counters: queue depths from the metrics, keys from the registries. */
export function dashboardGauges(metrics: Metrics, pacers: PacerRegistry, limits: LimitRegistry, clock: () => number): GaugeReader {
  return {
    queueDepths: () => metrics.queueDepth.read(),
    *keys() {
      const now = clock()
      const byKey = new Map<string, { r429: number; rateRpm: number; limitRpm: number }>()
      for (const p of pacers.all()) {
        const id = `${p.provider}~${p.key}`
        const k = byKey.get(id) ?? { r429: 0, rateRpm: 0, limitRpm: 0 }
        for (const n of Object.values(p.refusals)) k.r429 += n
        k.rateRpm += p.requests.rate(now)
        k.limitRpm += Math.min(p.requests.ceiling, p.requests.estimate)
        byKey.set(id, k)
      }
      for (const l of limits.all()) {
        const k = byKey.get(l.id)
        yield { id: l.id, r429: k?.r429 ?? 0, rateRpm: k?.rateRpm ?? NaN, limitRpm: k?.limitRpm ?? NaN, limit: l.effective, learned: l.learnedExact, inFlight: l.inflight }
      }
    },
  }
}

