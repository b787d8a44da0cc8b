import type { Candidate } from '../../../../src/core/balance/index.js'

/** A candidate that is mutable, as a caller reusing one array per pool would keep it. */
export type TestCandidate = { -readonly [K in keyof Candidate]: Candidate[K] }

export function cand(id: string, over: Partial<Candidate> = {}): TestCandidate {
  return { id, weight: 1, inflight: 0, limit: 10, waitMs: 0, ttftMs: null, ...over }
}

/** Candidates named by their weights, e.g. weighted({ a: 5, b: 1 }). */
export function weighted(weights: Record<string, number>): TestCandidate[] {
  return Object.entries(weights).map(([id, weight]) => cand(id, { weight }))
}

/** mulberry32: a small seeded PRNG, so randomized tests replay exactly. */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A rand() that fails the test if a strategy that should not need randomness calls it. */
export const noRand = (): number => {
  throw new Error('rand() called by a deterministic strategy')
}

/** Share of picks per candidate id, in the candidates' order. */
export function shares(ids: readonly string[], picks: readonly string[]): number[] {
  return ids.map((id) => picks.filter((p) => p === id).length / picks.length)
}
