import { weightOf, type Candidate } from './candidate.js'
import { LeastBusy } from './least-busy.js'
import type { Strategy } from './strategy.js'

/** KV-cache use above which a server is close to queueing or preempting: the cost turns steep. */
export const cacheKnee = 0.9
/**
 * A batch's worth of requests: vLLM's default max_num_seqs. The server's real one is not on
 * its /metrics page, and sluice's own concurrency limit for a key says nothing about what
 * other clients run on the same server.
 */
export const batchSize = 256
/** Scores closer than this to the best are a tie, settled by weight. */
export const tieBand = 0.05
/** 1 − use never goes below this, so a full cache costs a large but finite amount. */
const cacheFloor = 0.01

/**
 * The expected wait on a server, in units of "one request queued ahead of this one":
 *
 *   score = waiting + (running + inflight) / 256 + kv + max(0, kv − 0.9) / max(0.01, 1 − kv)
 *
 * - `waiting` (vllm:num_requests_waiting) counts whole: each one is a request the server
 *   could not start, so ours would queue behind it. This is the term that matters most.
 * - `running` is a share of a default batch: a busy batch slows every token a little (decode
 *   steps grow with the batch) but admits ours at once, so a full batch costs one waiter.
 * - `inflight` is this gateway's own requests to the deployment, read live, not scraped. The
 *   scrape is up to an interval old; without this term one instance would send everything
 *   between two scrapes to the server that looked emptiest (herding). Right after a scrape
 *   those requests are also inside `running` — a small double count, and the same kind on
 *   every server.
 * - KV-cache use counts linearly up to 0.9, then steeply: at 0.95 the extra is 1, at 0.98
 *   it is 4, at 0.99 it is 9, full it is 10. A server whose cache is nearly full queues new requests
 *   or preempts running ones (recomputing them from scratch), so a request sent there waits
 *   as if several were ahead of it, even while `waiting` still reads 0.
 *
 * Candidates without fresh metrics score only their in-flight share, as an idle server
 * would; when no candidate has metrics the strategy is least-busy. Scores within 0.05 of the
 * best are a tie, broken by weighted random: weights then still share the traffic among
 * similarly loaded servers, and the draw keeps several instances reading the same scrape
 * from all choosing the same server.
 */
export function metricsScore(c: Candidate): number {
  const own = c.inflight / batchSize
  if (c.queueDepth === null || c.queueDepth === undefined) return own
  const running = c.serverRunning ?? 0
  const kv = c.cacheUsage ?? 0
  return c.queueDepth + running / batchSize + own + kv + Math.max(0, kv - cacheKnee) / Math.max(cacheFloor, 1 - kv)
}

/** Resource-aware routing on a vLLM server's /metrics (DESIGN.md §6): the lowest metricsScore. */
export class MetricsAware implements Strategy {
  readonly name = 'metrics'
  readonly #fallback = new LeastBusy()

  pick(candidates: readonly Candidate[], key: string | null, rand: () => number): number {
    const n = candidates.length
    if (n <= 1) return n - 1
    let best = Infinity
    let anyMetrics = false
    for (const c of candidates) {
      if (c.queueDepth !== null && c.queueDepth !== undefined) anyMetrics = true
      const s = metricsScore(c)
      if (s < best) best = s
    }
    if (!anyMetrics) return this.#fallback.pick(candidates, key, rand)
    // A NaN score (a NaN field) never ties, so it is never picked while anything else can be.
    const limit = best + tieBand
    let tied = 0
    let only = -1
    let total = 0
    for (let i = 0; i < n; i++) {
      const c = candidates[i] as Candidate
      if (!(metricsScore(c) <= limit)) continue
      tied++
      only = i
      total += weightOf(c)
    }
    if (tied === 1) return only
    if (tied === 0) return this.#fallback.pick(candidates, key, rand)
    // Weighted among the tied; uniform when none of them has a positive weight.
    const useWeight = total > 0
    let left = rand() * (useWeight ? total : tied)
    let last = -1
    for (let i = 0; i < n; i++) {
      const c = candidates[i] as Candidate
      if (!(metricsScore(c) <= limit)) continue
      const w = useWeight ? weightOf(c) : 1
      if (w <= 0) continue
      last = i
      if (left < w) return i
      left -= w
    }
    // Rounding can leave `left` a hair above the last weight when rand() is just below 1.
    return last
  }
}
