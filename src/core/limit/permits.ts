// Counting permits is enforcement, kept apart from the law that moves the limit (Netflix
// concurrency-limits' Limiter vs Limit): this is the part a shared store can replace with leases.

/**
 * How a permit's request ended. `success`: the upstream took it and answered; `dropped`: the
 * upstream refused it for capacity; `ignore`: it says nothing about capacity (a client abort, a
 * client error, a rate 429).
 */
export type PermitOutcome = 'success' | 'ignore' | 'dropped'

/** One request's hold on a key's concurrency; ends exactly once. */
export interface Permit {
  /** Permits held on the key right after this one was granted, itself included. */
  readonly level: number
  /**
   * The limit's era when it was granted (see ConcurrencyLaw.era). Absent on permits whose holder
   * keeps none (a shared store's leases): their successes count in the era they end in.
   */
  readonly era?: number
  /**
   * Ends the permit and frees its slot, at `at` (epoch ms, for what the law records): true the
   * first time; a second call changes nothing and returns false.
   */
  release(outcome: PermitOutcome, at: number): boolean
  readonly released: boolean
}

/** Hears how each permit ended, before its slot is freed. */
export type PermitListener = (permit: Permit, outcome: PermitOutcome, at: number) => void

/**
 * The permits held on one key and the gate a concurrency 429 closes. Knows nothing of how the
 * limit is chosen: wait() takes it as an argument.
 */
export class PermitCounter {
  /** Permits held: requests granted a slot whose answer or stream has not ended. */
  inflight = 0
  /** release() calls on a permit already released: always 0 unless a caller ends a permit twice. */
  duplicateReleases = 0
  /** Monotonic ms until which a concurrency 429 holds new requests back (see holdBack). */
  #gateUntil = -Infinity
  /** Releases still to come from refused requests, which free no upstream slot. */
  #refusedReleases = 0

  /** Grants a permit; `onEnd` hears its outcome once, just before its slot is freed. */
  acquire(onEnd: PermitListener | null = null, era = 0): Permit {
    this.inflight++
    return new HeldPermit(this, this.inflight, era, onEnd)
  }

  /**
   * How long until another permit may be granted under `limit`, in monotonic ms: 0 now, a time
   * while a concurrency 429 holds the key back, Infinity while every permit is held (a release
   * ends that wait, not time).
   */
  wait(now: number, limit: number): number {
    if (this.inflight >= limit) return Infinity
    return now < this.#gateUntil ? this.#gateUntil - now : 0
  }

  /**
   * The upstream refused a request for concurrency: sending another one at once would be
   * refused too, as no slot upstream has freed. Hold new requests until one of ours on this key
   * ends (a slot freed) or, when none of ours is in flight to end, until `until` (the 429's
   * Retry-After, monotonic ms). The refused request's own release does not count as a slot
   * freed: it never held one upstream.
   */
  holdBack(until: number): void {
    this.#gateUntil = Math.max(this.#gateUntil, until)
    this.#refusedReleases++
  }

  /** @internal A permit ended: free its slot. */
  freed(): void {
    if (this.inflight > 0) this.inflight--
    if (this.#refusedReleases > 0) this.#refusedReleases--
    else this.#gateUntil = -Infinity
  }
}

class HeldPermit implements Permit {
  released = false

  constructor(
    readonly counter: PermitCounter,
    readonly level: number,
    readonly era: number,
    readonly onEnd: PermitListener | null,
  ) {}

  release(outcome: PermitOutcome, at: number): boolean {
    if (this.released) {
      this.counter.duplicateReleases++
      return false
    }
    this.released = true
    // The listener sees the in-flight count with this permit still in it, as the law expects:
    // it was one of them when its answer came.
    this.onEnd?.(this, outcome, at)
    this.counter.freed()
    return true
  }
}
