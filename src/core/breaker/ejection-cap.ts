// How much of a model passive health may take out at once (Envoy's max_ejection_percent).
//
// A group is the set of keys that serve one model. Noise on every key of a model must not add
// up to an outage of the model, so a soft failure (5xx, reset, timeout) may take a key out only
// while the keys already out of that group, plus this one, stay within its cap. A key refused
// by the cap is demoted instead: still in service, but used only when no other key can take
// the request (see undemotedFirst). Hard evidence — a 401/403, a refused connection — is not
// capped: a key that cannot answer at all serves nobody by staying in.

/** One key's standing as the cap sees it. */
export interface GroupMember {
  /** Open, half-open or disabled: out of service, by whatever cause. */
  readonly out: boolean
}

/**
 * Keys of a group of `size` that soft failures may have out at once: `percent` of them rounded
 * down, at least one when the percent is above 0, never all of them.
 */
export function ejectionCap(size: number, percent: number): number {
  if (size <= 1 || percent <= 0) return 0
  return Math.min(size - 1, Math.max(1, Math.floor((size * percent) / 100)))
}

/** Whether `member` may go out now without taking any group it belongs to past its cap. */
export function mayEject(member: GroupMember, groups: readonly (readonly GroupMember[])[], percent: number): boolean {
  for (let g = 0; g < groups.length; g++) {
    const group = groups[g]!
    let out = 0
    for (let i = 0; i < group.length; i++) if (group[i] !== member && group[i]!.out) out++
    if (out + 1 > ejectionCap(group.length, percent)) return false
  }
  return true
}

/** A deployment-like thing with a breaker that may be demoted. */
interface HasBreaker {
  readonly breaker: { demoted(now: number): boolean }
}

/**
 * Reorders the first `n` entries of `eligible` so that keys demoted by the ejection cap take a
 * request only when no other key can: returns how many entries to choose from — the ones not
 * demoted, moved to the front, or all `n` when every one is demoted. Allocates nothing.
 */
export function undemotedFirst(eligible: HasBreaker[], n: number, now: number): number {
  let kept = 0
  for (let i = 0; i < n; i++) {
    const d = eligible[i]!
    if (d.breaker.demoted(now)) continue
    eligible[i] = eligible[kept]!
    eligible[kept++] = d
  }
  return kept > 0 ? kept : n
}
