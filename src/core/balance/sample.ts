import { weightOf, type Candidate } from './candidate.js'

/**
 * An index drawn with probability ∝ weight, leaving out `exclude` (-1 for none), from one
 * uniform number `r` in [0, 1). Returns -1 when no candidate left has a positive weight, so the
 * caller decides what zero weights mean (usually: fall back to uniform).
 */
export function weightedIndex(candidates: readonly Candidate[], r: number, exclude: number): number {
  let total = 0
  for (let i = 0; i < candidates.length; i++) if (i !== exclude) total += weightOf(candidates[i] as Candidate)
  if (total <= 0) return -1
  let left = r * total
  let last = -1
  for (let i = 0; i < candidates.length; i++) {
    if (i === exclude) continue
    const w = weightOf(candidates[i] as Candidate)
    if (w <= 0) continue
    last = i
    if (left < w) return i
    left -= w
  }
  // Rounding can leave `left` a hair above the last weight when r is just below 1.
  return last
}

/** An index in [0, n) other than `exclude` (-1 for none), uniformly, from one number in [0, 1). */
export function uniformIndex(n: number, r: number, exclude: number): number {
  const choices = exclude >= 0 && exclude < n ? n - 1 : n
  if (choices <= 0) return -1
  const i = Math.min(choices - 1, Math.floor(r * choices))
  return exclude >= 0 && i >= exclude ? i + 1 : i
}
