import { weightOf, type Candidate } from './candidate.js'
import { hashPrefix, hashWith, type HashPrefix } from './hash.js'
import { PowerOfTwoChoices } from './p2c.js'
import type { Strategy } from './strategy.js'

/** Bounded load: no candidate takes a request that would lift it past this × mean in-flight. */
export const loadBound = 1.25

const twoTo53 = 2 ** 53

/**
 * Rendezvous (highest random weight) hashing on the affinity key — session id, consumer or
 * client IP — with bounded loads. Each candidate scores −weight / ln(u), u = hash(key, id)
 * mapped into (0, 1) (weighted rendezvous, Schindelhauer & Schomaker); the highest score wins.
 * With equal weights this is plain highest-u. Removing one of n candidates moves only the keys
 * that were on it (≈ 1/n), where `hash % n` moves almost all of them and with them the
 * upstream's prompt cache.
 *
 * Bounded load (Mirrokni, Thorup & Zadimoghaddam, "Consistent Hashing with Bounded Loads";
 * Envoy's hash_balance_factor): a candidate takes the request only while its in-flight plus
 * this one stays within ceil(1.25 × mean in-flight counting this one), else the key goes to the
 * next highest score. That capacity is always ≥ 1 and above the lowest load, so some candidate
 * always qualifies, and no candidate ends above ceil(1.25 × mean): one hot session spills over
 * instead of saturating its key.
 *
 * Without a key (no session, consumer or IP) there is no affinity to keep: p2c decides.
 */
export class RendezvousHash implements Strategy {
  readonly name = 'hash'
  readonly #fallback = new PowerOfTwoChoices()
  readonly #prefix: HashPrefix = { h1: 0, h2: 0 }

  pick(candidates: readonly Candidate[], key: string | null, rand: () => number): number {
    const n = candidates.length
    if (key === null) return this.#fallback.pick(candidates, key, rand)
    if (n <= 1) return n - 1
    let inflight = 0
    let anyWeight = false
    for (const c of candidates) {
      inflight += c.inflight
      if (weightOf(c) > 0) anyWeight = true
    }
    const capacity = Math.ceil((loadBound * (inflight + 1)) / n)
    const prefix = hashPrefix(key, this.#prefix)
    let best = -1
    let bestScore = -Infinity
    for (let i = 0; i < n; i++) {
      const c = candidates[i] as Candidate
      if (c.inflight + 1 > capacity) continue
      const w = anyWeight ? weightOf(c) : 1
      if (w <= 0) continue
      // (h + 0.5) / 2^53 is strictly inside (0, 1), so ln(u) is finite and negative.
      const u = (hashWith(prefix, c.id) + 0.5) / twoTo53
      const score = -w / Math.log(u)
      if (best < 0 || score > bestScore) {
        best = i
        bestScore = score
      }
    }
    // Unreachable while capacity exceeds the lowest load, unless every candidate under it has
    // zero weight; then the least loaded one is the fairest answer.
    return best >= 0 ? best : leastLoaded(candidates)
  }
}

function leastLoaded(candidates: readonly Candidate[]): number {
  let best = 0
  for (let i = 1; i < candidates.length; i++) if ((candidates[i] as Candidate).inflight < (candidates[best] as Candidate).inflight) best = i
  return best
}
