// Permit leases: a key's concurrency counted across every instance (issue 15, "concurrency").
//
// Where it stands: `PermitCounter` (src/core/limit/permits.ts) counts one process's permits and
// hands out `Permit`s that end exactly once. With shared state the count lives in Redis as a
// sorted set of leases (member = lease id, score = expiry on Redis's clock), so permits in use
// across all instances never exceed the limit, and the leases of an instance that dies expire
// by themselves `leaseTtlMs` after their last renewal.
//
// How the scheduler would use it: keep the synchronous eligibility check on a local mirror of
// the count (`inUse` from the last grant or refusal, plus this instance's own acquires and
// releases); when it picks a key, `acquire` (one round trip, beside the pacer's) and treat a
// refusal as "every permit held" until a release wakes the key (ours at once; another
// instance's through the invalidation channel or, at worst, the next renewal tick). The lease id
// goes into a `Permit` whose release(outcome, at) feeds the law locally and calls `release` once
// (fire and forget: a lost release only holds the slot until the lease expires). One timer per
// instance calls `renew` every `renewEveryMs` with every lease still held (one pipeline).

/** A lease lives this long after its last renewal: a crashed instance's permits come back by themselves. */
export const leaseTtlMs = 30_000
/** A key's shared limit is forgotten after this long without a lease taken on the key. */
export const sharedLimitTtlMs = 3_600_000
/** Renewal period: three renewals can be missed before a running request loses its lease. */
export const renewEveryMs = 10_000

/**
 * A learned concurrency limit as one instance's law has it (ConcurrencyLaw): L (whole), Ĉ (null
 * in slow start) and the generation of its last move that was not growth.
 */
export interface SharedLimit {
  readonly limit: number
  readonly accepted: number | null
  readonly generation: number
  /** An admin reset: taken whatever is shared, at a generation after it (offers only). */
  readonly reset?: boolean
}

/** A fixed limit holds the key this long after an instance last enforced it, whatever others learned. */
export const fixedLimitHoldMs = 30_000

export interface LeaseGrant extends SharedLimit {
  readonly granted: boolean
  /** The lease to release; null when refused. */
  readonly leaseId: string | null
  /** Leases held on the key after the call, every instance's (the granted one included). */
  readonly inUse: number
  // limit, accepted, generation: the key's shared limit the call was judged by (see PermitLeases.acquire).
}

/**
 * Whether `offer` replaces the key's shared limit `shared`: a later generation always (a cut, a
 * probe or a reset comes after every growth it undoes). At one generation, the higher L, then the
 * higher Ĉ (none, in slow start, lowest): growth; and of two cuts made in one burst, the shallower.
 * The deeper one is often a request refused at a level lower than the upstream's (granted before
 * others that reached the upstream first: three instances grant out of the upstream's order far
 * more often than one), and taken by every instance it held a cap-6 key at 3 until the next probe;
 * a real drop is found again by the next 429.
 */
export function offerWins(offer: SharedLimit, shared: SharedLimit): boolean {
  if (offer.generation !== shared.generation) return offer.generation > shared.generation
  if (offer.limit !== shared.limit) return offer.limit > shared.limit
  return (offer.accepted ?? -1) > (shared.accepted ?? -1)
}

export interface LeaseRef {
  readonly keyId: string
  readonly leaseId: string
}

export interface LeaseCount {
  readonly total: number
  /** Leases in use by instance id. */
  readonly byInstance: Readonly<Record<string, number>>
}

export interface PermitLeases {
  /**
   * A lease on `keyId` if fewer than the key's limit are held (expired ones do not count). The
   * key's limit is one for every instance: a number is a fixed limit, everyone's at once and for
   * `fixedLimitHoldMs` after (offers do not replace it; the learned state behind it is kept); a
   * learned one is offered, and replaces the key's shared limit when there is none (none in the
   * last `sharedLimitTtlMs`), when it wins over it (offerWins), or when it is a reset (taken at
   * the generation after the shared one) — otherwise the shared one applies, and the grant says
   * what it is so the caller's law can follow it.
   */
  acquire(keyId: string, limit: number | SharedLimit, ttlMs?: number): Promise<LeaseGrant>
  /** Ends a lease: true the first time, false when it was released already or had expired. */
  release(keyId: string, leaseId: string): Promise<boolean>
  /** Extends leases still held, all in one round trip; per lease, whether it was still held. */
  renew(leases: readonly LeaseRef[], ttlMs?: number): Promise<readonly boolean[]>
  /** Leases held on `keyId` now, in total and by instance. */
  inUse(keyId: string): Promise<LeaseCount>
}

/** Lease ids are `<instance id>/<sequence>`: the instance a lease belongs to is read from it. */
export function instanceOfLease(leaseId: string): string {
  const slash = leaseId.lastIndexOf('/')
  return slash < 0 ? leaseId : leaseId.slice(0, slash)
}
