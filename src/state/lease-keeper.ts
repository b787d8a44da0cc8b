import { systemTimers, type TimerHandle, type Timers } from '../core/clock.js'
import type { Permit, PermitListener, PermitOutcome } from '../core/limit/permits.js'
import { leaseTtlMs, renewEveryMs, type LeaseRef, type PermitLeases, type SharedLimit } from './permits.js'

// One instance's permit leases as core `Permit`s: what the scheduler would hold instead of a
// PermitCounter's permits when state is on Redis. Acquiring is async (one round trip); a permit
// still ends exactly once and synchronously, as the attempt loop expects — the lease's removal
// is sent without waiting, and a removal that fails only holds the slot until the lease expires.
// One timer renews every lease this instance holds, all in one pipeline, every `renewEveryMs`.

export interface LeaseKeeperOptions {
  readonly timers?: Timers
  readonly ttlMs?: number
  readonly renewEveryMs?: number
  /** A running request's lease had expired when renewed (Redis was away too long): its slot may be someone else's now. */
  readonly onLost?: (ref: LeaseRef) => void
  /** A release or renewal that failed (Redis unreachable); the lease expires by itself. */
  readonly onError?: (err: unknown) => void
}

export interface LeasedGrant {
  /** null when every permit of the key is held across the instances. */
  readonly permit: Permit | null
  /** Leases held on the key after the call, every instance's. */
  readonly inUse: number
  /** The key's shared limit the call was judged by. */
  readonly shared: SharedLimit
}

export class LeaseKeeper {
  readonly #ports: PermitLeases
  readonly #timers: Timers
  readonly #ttlMs: number
  readonly #everyMs: number
  readonly #onLost: (ref: LeaseRef) => void
  readonly #onError: (err: unknown) => void
  /** Held leases by lease id, in the order taken. */
  readonly #held = new Map<string, LeaseRef>()
  #timer: TimerHandle | null = null
  #stopped = true

  constructor(ports: PermitLeases, opts: LeaseKeeperOptions = {}) {
    this.#ports = ports
    this.#timers = opts.timers ?? systemTimers
    this.#ttlMs = opts.ttlMs ?? leaseTtlMs
    this.#everyMs = opts.renewEveryMs ?? renewEveryMs
    this.#onLost = opts.onLost ?? (() => {})
    this.#onError = opts.onError ?? (() => {})
  }

  /** Leases this instance holds now. */
  get held(): number {
    return this.#held.size
  }

  /**
   * A permit on `keyId` if fewer than the key's limit are held across the instances (`limit` as
   * PermitLeases.acquire takes it); `onEnd` hears its outcome once.
   */
  async acquire(keyId: string, limit: number | SharedLimit, onEnd: PermitListener | null = null): Promise<LeasedGrant> {
    const grant = await this.#ports.acquire(keyId, limit, this.#ttlMs)
    if (!grant.granted || grant.leaseId === null) return { permit: null, inUse: grant.inUse, shared: grant }
    const ref = { keyId, leaseId: grant.leaseId }
    this.#held.set(ref.leaseId, ref)
    return { permit: new LeasedPermit(this, ref, grant.inUse, onEnd), inUse: grant.inUse, shared: grant }
  }

  /** Renews every held lease in one round trip; returns how many were still held. */
  async renewAll(): Promise<number> {
    const refs = [...this.#held.values()]
    if (refs.length === 0) return 0
    const still = await this.#ports.renew(refs, this.#ttlMs)
    let renewed = 0
    refs.forEach((ref, i) => {
      if (still[i]) renewed++
      // Lost, and not released meanwhile: forget it (its release would free nothing) and say so.
      else if (this.#held.delete(ref.leaseId)) this.#onLost(ref)
    })
    return renewed
  }

  /** Arms the renewal timer (one per instance, re-armed after each renewal so two never overlap). */
  start(): void {
    if (!this.#stopped) return
    this.#stopped = false
    this.#arm()
  }

  /** Stops renewing (shutdown). Held leases then expire `ttlMs` after their last renewal unless released. */
  stop(): void {
    this.#stopped = true
    if (this.#timer !== null) this.#timers.clearTimeout(this.#timer)
    this.#timer = null
  }

  /** @internal A permit ended: forget its lease and remove it, without waiting. */
  ended(ref: LeaseRef): void {
    if (!this.#held.delete(ref.leaseId)) return
    this.#ports.release(ref.keyId, ref.leaseId).catch(this.#onError)
  }

  #arm(): void {
    this.#timer = this.#timers.setTimeout(() => {
      this.#timer = null
      this.renewAll()
        .catch(this.#onError)
        .finally(() => {
          if (!this.#stopped) this.#arm()
        })
    }, this.#everyMs)
  }
}

class LeasedPermit implements Permit {
  released = false

  constructor(
    readonly keeper: LeaseKeeper,
    readonly ref: LeaseRef,
    readonly level: number,
    readonly onEnd: PermitListener | null,
  ) {}

  release(outcome: PermitOutcome, at: number): boolean {
    if (this.released) return false
    this.released = true
    this.onEnd?.(this, outcome, at)
    this.keeper.ended(this.ref)
    return true
  }
}
