// What a strategy knows about one deployment (a provider key × upstream model). The caller
// builds these from the breaker, pacer and permit it already consulted to decide the key is
// eligible; a strategy never reads that state itself, so it stays pure and testable with
// plain objects. Reusing one array of mutable objects per pool keeps a pick allocation-free.

export interface Candidate {
  /** Stable across requests and config reloads: per-candidate state (smooth WRR) is keyed by it. */
  readonly id: string
  /** Relative share; ≤ 0 means "only when no candidate has a positive weight". */
  readonly weight: number
  /** Requests this instance (or the cluster, when the caller reads shared state) has in flight on it. */
  readonly inflight: number
  /** The concurrency limit in force (fixed, or floor of the learned one); Infinity when unbounded. */
  readonly limit: number
  /** Milliseconds until its pacer can take a request; 0 = now. */
  readonly waitMs: number
  /** Peak-EWMA of time to first token in ms (see PeakEwma), or null before its first sample. */
  readonly ttftMs: number | null
  // The server's own view of its load, scraped from a self-hosted vLLM's /metrics for the
  // `metrics` strategy. Absent or null when the deployment has no fresh scrape (not a vLLM
  // server, or its last good scrape is stale); `queueDepth` decides whether there is one.
  /** Requests queued inside the server (all clients), waiting for a batch slot or KV-cache blocks. */
  readonly queueDepth?: number | null
  /** Requests the server reports running, from every client (not only this gateway). */
  readonly serverRunning?: number | null
  /** Share of the server's KV cache in use, 0..1. */
  readonly cacheUsage?: number | null
}

/** A weight a strategy can use: NaN, negative and zero all count as 0. */
export function weightOf(c: Candidate): number {
  return c.weight > 0 ? c.weight : 0
}

/**
 * In-flight ÷ limit. A limit of 0 (or a nonsensical negative one) makes the candidate look
 * full rather than dividing by zero; an unbounded limit makes it look idle.
 */
export function utilisation(c: Candidate): number {
  return c.limit > 0 ? c.inflight / c.limit : Infinity
}
