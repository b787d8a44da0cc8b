import type { KeyStats, SimulatorStats } from '../types.js'

/** How a request ended, for the counters. Every finished request has exactly one. */
export type Outcome = 'ok' | 'error' | 'aborted' | 'rpm' | 'tpm' | 'concurrent' | 'quota'

/** Counters for one key id (or the totals). Mutated in place so in-flight requests survive reset(). */
export class Ledger {
  readonly stats: KeyStats = emptyStats()

  /** A request was admitted past the limits and is now being served. */
  begin(): void {
    const s = this.stats
    s.in_flight++
    if (s.in_flight > s.max_concurrency_seen) s.max_concurrency_seen = s.in_flight
  }

  /** An admitted request stopped taking capacity: its last byte was written, or it ended otherwise. */
  release(): void {
    this.stats.in_flight--
  }

  end(outcome: Outcome): void {
    const s = this.stats
    s.requests++
    switch (outcome) {
      case 'ok': s.ok++; break
      case 'error': s.errors++; break
      case 'aborted': s.aborted++; break
      default: s.rate_limited[outcome]++
    }
  }

  /** Clears history; requests still running stay counted as in flight. */
  clear(): void {
    const inFlight = this.stats.in_flight
    Object.assign(this.stats, emptyStats(), { in_flight: inFlight, max_concurrency_seen: inFlight })
  }
}

export class StatsBook {
  readonly totals = new Ledger()
  readonly #byId = new Map<string, Ledger>()

  ledger(id: string): Ledger {
    let ledger = this.#byId.get(id)
    if (ledger === undefined) {
      ledger = new Ledger()
      this.#byId.set(id, ledger)
    }
    return ledger
  }

  snapshot(): SimulatorStats {
    const keys: Record<string, KeyStats> = {}
    for (const [id, ledger] of this.#byId) keys[id] = copy(ledger.stats)
    return { totals: copy(this.totals.stats), keys }
  }

  clear(): void {
    this.totals.clear()
    for (const ledger of this.#byId.values()) ledger.clear()
  }
}

function emptyStats(): KeyStats {
  return {
    requests: 0,
    ok: 0,
    errors: 0,
    rate_limited: { rpm: 0, tpm: 0, concurrent: 0, quota: 0 },
    max_concurrency_seen: 0,
    in_flight: 0,
    aborted: 0,
  }
}

function copy(s: KeyStats): KeyStats {
  return { ...s, rate_limited: { ...s.rate_limited } }
}
