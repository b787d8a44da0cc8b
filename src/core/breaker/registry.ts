import { KeyBreaker } from './key-breaker.js'
import type { BreakerSettings } from './types.js'

/** A breaker's id: the same `provider~key` the limits and the admin API use (`~` cannot occur in either). */
export function breakerId(provider: string, key: string): string {
  return `${provider}~${key}`
}

type Listener = (b: KeyBreaker) => void

/**
 * Every key's breaker, by id. Like pacers and limits, a breaker is long-lived: a reload
 * reconfigures the same object, so a key that is out stays out across it.
 */
export class BreakerRegistry {
  readonly #breakers = new Map<string, KeyBreaker>()
  readonly #rand: (() => number) | undefined
  /** Replaced, never mutated, on listen/unsubscribe: a listener that unsubscribes while being told does not disturb the loop. */
  #listeners: readonly Listener[] = []
  readonly #fanOut = (b: KeyBreaker): void => {
    const listeners = this.#listeners
    for (let i = 0; i < listeners.length; i++) listeners[i]!(b)
  }

  constructor(rand?: () => number) {
    this.#rand = rand
  }

  /** The breaker of provider/key, created on first use, reconfigured on later calls. */
  obtain(provider: string, key: string, settings: BreakerSettings): KeyBreaker {
    const id = breakerId(provider, key)
    let breaker = this.#breakers.get(id)
    if (breaker) {
      breaker.configure(settings)
      return breaker
    }
    breaker = new KeyBreaker(id, provider, key, settings, this.#rand)
    breaker.onChange = this.#fanOut
    this.#breakers.set(id, breaker)
    return breaker
  }

  get(id: string): KeyBreaker | undefined {
    return this.#breakers.get(id)
  }

  all(): IterableIterator<KeyBreaker> {
    return this.#breakers.values()
  }

  /**
   * Drops breakers whose id is not in `live` (keys removed from the config). A dropped breaker
   * no longer reaches the listeners: requests still running on it may report to it, but it
   * serves nothing, and a config that names the key again gets a fresh, closed one.
   */
  retain(live: ReadonlySet<string>): void {
    for (const [id, breaker] of this.#breakers) {
      if (live.has(id)) continue
      this.#breakers.delete(id)
      breaker.onChange = null
    }
  }

  /**
   * Replaces the groups of the ejection cap: each is the set of keys that serve one model (by
   * breaker id; unknown ids are skipped, repeats count once). A key in no group has no cap.
   */
  setGroups(groups: Iterable<Iterable<string>>): void {
    const byBreaker = new Map<KeyBreaker, KeyBreaker[][]>()
    for (const ids of groups) {
      const members = [...new Set(ids)].map((id) => this.#breakers.get(id)).filter((b): b is KeyBreaker => b !== undefined)
      for (const b of members) {
        let mine = byBreaker.get(b)
        if (mine === undefined) byBreaker.set(b, (mine = []))
        mine.push(members)
      }
    }
    for (const b of this.#breakers.values()) b.joinGroups(byBreaker.get(b) ?? [])
  }

  /** Adds a listener told of every breaker's transitions; returns an unsubscribe function. */
  listen(fn: Listener): () => void {
    this.#listeners = [...this.#listeners, fn]
    return () => {
      const i = this.#listeners.indexOf(fn)
      if (i >= 0) this.#listeners = [...this.#listeners.slice(0, i), ...this.#listeners.slice(i + 1)]
    }
  }
}
