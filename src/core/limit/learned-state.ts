import type { LimitAdjustment } from '../../store/types.js'

// How many requests one upstream key may have in flight (DESIGN.md §6 "Learned concurrency",
// research/algorithms.md §2.4). Aether's data model — `max_concurrent: null` learns, a number
// is fixed and never touched, typed 429 counters, a 20-entry history — with a control law that
// does not sit at 0.85 × the real cap: slow start (×1.5 per round of L answers) until the first
// concurrency 429, cut to 0.9 × the level the upstream refused when it refuses a level it took
// before, grow by 1/L per saturated success (about +1 per window of L completions), and probe
// the cap upward after two quiet minutes (issue 14; bench/README.md "Concurrency").

export const concurrencyDefaults = {
  initial: 8,
  min: 1,
  max: 200,
  /** L := min(L, backoff × Ĉ) on a concurrency 429 at a level the upstream took before. */
  backoff: 0.9,
  /** Slow start: each saturated success adds this much, so a round of L answers takes L to 1.5 L. */
  slowStartGain: 0.5,
  /** Slow start comes back after this many probes in a row found the upstream taking more. */
  slowStartAfterProbes: 2,
  /** A success grows L only while this share of floor(L) is in flight. */
  saturation: 0.8,
  /** No growth this long after any 429. */
  growthHoldMs: 5_000,
  /**
   * Ĉ is probed upward only after this long without a concurrency 429, doubled for each probe
   * in a row the upstream refused (2, 4, 8 minutes) up to probeQuietMaxMs …
   */
  probeQuietMs: 120_000,
  probeQuietMaxMs: 600_000,
  /** … and at most this often, by max(1, probeShare × Ĉ). */
  probeEveryMs: 60_000,
  probeShare: 0.1,
  /**
   * Where slow start ends is known only to within a level: an answer the gateway has seen may
   * still count at the upstream for a moment, so its refusal can come one level early. The level
   * above is probed once this long after that cut, not after the quiet minutes.
   */
  exitCheckMs: 15_000,
  historySize: 20,
} as const

/** Wall-clock epoch milliseconds: these instants are persisted and shown to admins. */
export type EpochMs = number

/** What a limit carries across restarts (the store's KeyLearning without identity and override). */
export interface LearnedState {
  readonly learnedLimit: number | null
  readonly acceptedLevel: number | null
  readonly concurrent429Count: number
  readonly rpm429Count: number
  readonly tpm429Count: number
  readonly last429At: EpochMs | null
  readonly last429Type: string | null
  readonly lastProbeAt: EpochMs | null
  readonly history: readonly LimitAdjustment[]
}

export const nothingLearned: LearnedState = {
  learnedLimit: null,
  acceptedLevel: null,
  concurrent429Count: 0,
  rpm429Count: 0,
  tpm429Count: 0,
  last429At: null,
  last429Type: null,
  lastProbeAt: null,
  history: [],
}
