import type { ConsumerSettingsInput } from '../../core/admit/index.js'
import type { Consumer } from '../../context.js'
import { effectiveSettings } from '../../core/admit/index.js'
import { SluiceError } from '../../errors.js'

/** What a virtual key resolves to: its consumer and the facts that decide whether it may be used. */
export interface KeyRecord {
  readonly keyId: string
  /** The short visible start of the key (`sk-sluice-AbCd`), for logs and the ledger. */
  readonly prefix: string
  readonly consumerId: string
  readonly consumerName: string
  readonly tier: string | null
  readonly overrides: ConsumerSettingsInput | null
  readonly consumerDisabled: boolean
  /** Epoch ms, or null. */
  readonly revokedAt: number | null
  readonly expiresAt: number | null
}

/** Where virtual keys live (the database); the directory caches above it. */
export interface KeySource {
  findByHash(hash: string): Promise<KeyRecord | null>
  countConsumers(): Promise<number>
}

/** Told whether the source answered, so readiness can say the database is out. */
export interface SourceHealth {
  answered(): void
  failed(err: unknown): void
}

interface Cached {
  readonly record: KeyRecord | null
  readonly until: number
  /** While the source fails: when to ask it again; until then the entry is served stale without waiting on it. */
  retryAt: number
  /** The tiers the consumer's settings were computed with; a reload brings a new map. */
  tiers: ReadonlyMap<string, ConsumerSettingsInput> | null
  consumer: Consumer | null
}

export interface DirectoryOptions {
  /** How long a found key is trusted before the database is asked again (revocations made elsewhere take this long). */
  readonly ttlMs?: number
  /** How long an unknown key is remembered as unknown. */
  readonly negativeTtlMs?: number
  readonly maxEntries?: number
  /** How long "no consumers yet" is trusted in auth: auto. */
  readonly emptyCheckMs?: number
  /**
   * How long past its TTL a key found earlier keeps working while the database cannot be
   * reached (stale-if-error). A key revoked elsewhere meanwhile works that much longer.
   */
  readonly staleIfErrorMs?: number
  /** While the database fails, how long a stale key is served before the database is asked again. */
  readonly retryMs?: number
  readonly health?: SourceHealth
}

/** Stale-if-error bound (README, "Consumers and virtual keys"). */
export const defaultStaleIfErrorMs = 600_000

/**
 * Virtual keys by hash, cached: the hot path reads a Map, the database is asked once per key
 * per TTL. Revoking through this process invalidates at once, lookups already under way
 * included; another instance's revocation takes at most the TTL.
 */
export class ConsumerDirectory {
  readonly #cache = new Map<string, Cached>()
  readonly #inflight = new Map<string, Promise<KeyRecord | null>>()
  /** Keys used since the last takeUsed(), for their last_used_at. */
  readonly #used = new Set<string>()
  readonly #ttlMs: number
  readonly #negativeTtlMs: number
  readonly #maxEntries: number
  readonly #emptyCheckMs: number
  readonly #staleIfErrorMs: number
  readonly #retryMs: number
  readonly #health: SourceHealth | null
  /**
   * Bumped by every invalidate(). A lookup that started in an older generation may have read
   * the key before a revoke or disable was written, so its answer is asked again, never used.
   */
  #generation = 0
  #consumersExist = false
  #emptyCheckedAt = -Infinity
  #emptyCheck: Promise<boolean> | null = null

  constructor(
    private readonly source: KeySource,
    private readonly now: () => number,
    opts: DirectoryOptions = {},
  ) {
    this.#ttlMs = opts.ttlMs ?? 30_000
    this.#negativeTtlMs = opts.negativeTtlMs ?? 5_000
    this.#maxEntries = opts.maxEntries ?? 10_000
    this.#emptyCheckMs = opts.emptyCheckMs ?? 5_000
    this.#staleIfErrorMs = opts.staleIfErrorMs ?? defaultStaleIfErrorMs
    this.#retryMs = opts.retryMs ?? 5_000
    this.#health = opts.health ?? null
  }

  /**
   * The consumer a key hash belongs to, or null when the key is unknown, revoked or expired, or
   * its consumer disabled. Throws auth_unavailable when the database cannot be reached and the
   * key is not one it confirmed within the TTL plus staleIfErrorMs.
   */
  async resolve(hash: string, tiers: ReadonlyMap<string, ConsumerSettingsInput>, epochNow: number): Promise<Consumer | null> {
    const now = this.now()
    let entry = this.#cache.get(hash)
    // Stale-if-error: a key the database confirmed keeps working for a while when it cannot be
    // asked again. An unknown key is not served stale: it may have been created since.
    const stale = entry !== undefined && entry.record !== null && now < entry.until + this.#staleIfErrorMs ? entry : undefined
    if (entry === undefined || entry.until <= now) entry = await this.#refresh(hash, stale, now)
    const r = entry.record
    if (r === null || r.consumerDisabled || r.revokedAt !== null || (r.expiresAt !== null && r.expiresAt <= epochNow)) return null
    this.#used.add(r.keyId)
    if (entry.consumer === null || entry.tiers !== tiers) {
      entry.tiers = tiers
      const settings = effectiveSettings(r.tier === null ? null : tiers.get(r.tier), r.overrides)
      entry.consumer = Object.freeze({ id: r.consumerId, name: r.consumerName, keyPrefix: r.prefix, tier: r.tier, settings })
    }
    return entry.consumer
  }

  /**
   * Whether any consumer exists (for `auth` unset): a boolean when known, a promise while the
   * database is asked — at most every few seconds while none exists, never again once one does.
   */
  consumersExist(): boolean | Promise<boolean> {
    if (this.#consumersExist) return true
    const now = this.now()
    if (now - this.#emptyCheckedAt < this.#emptyCheckMs) return false
    const known = this.#emptyCheckedAt > -Infinity
    this.#emptyCheck ??= this.source.countConsumers().then(
      (n) => {
        this.#health?.answered()
        this.#emptyCheckedAt = this.now()
        this.#emptyCheck = null
        if (n > 0) this.#consumersExist = true
        return n > 0
      },
      (err: unknown) => {
        this.#health?.failed(err)
        this.#emptyCheck = null
        // The last answer ("none yet") stands while the database cannot give a new one.
        if (known) {
          this.#emptyCheckedAt = this.now()
          return false
        }
        throw new SluiceError('auth_unavailable', [], { retryAfter: Math.ceil(this.#emptyCheckMs / 1000), cause: err })
      },
    )
    return this.#emptyCheck
  }

  /** The ids of the keys used since the last call. */
  takeUsed(): string[] {
    const ids = [...this.#used]
    this.#used.clear()
    return ids
  }

  /** A consumer was created here: auth applies from the next request. */
  consumerCreated(): void {
    this.#consumersExist = true
  }

  /** Keys or consumers changed here (revoked, disabled, re-tiered): forget what was cached. */
  invalidate(): void {
    this.#generation++
    this.#cache.clear()
    // Requests from now on must not join a lookup that may predate the change.
    this.#inflight.clear()
  }

  /**
   * A fresh entry from the database, asked again when an invalidate() came while it was asked;
   * when the database cannot answer, `stale` while that may still serve, else auth_unavailable.
   */
  async #refresh(hash: string, stale: Cached | undefined, now: number): Promise<Cached> {
    // The database failed moments ago: this request does not wait on it again.
    if (stale !== undefined && now < stale.retryAt) return stale
    // `stale` was read from the cache in this generation: an invalidate() since forbids serving it.
    const staleGeneration = this.#generation
    for (;;) {
      const generation = this.#generation
      let record: KeyRecord | null
      try {
        record = await this.#load(hash)
      } catch (err) {
        if (stale === undefined || staleGeneration !== this.#generation) throw new SluiceError('auth_unavailable', [], { retryAfter: Math.ceil(this.#retryMs / 1000), cause: err })
        stale.retryAt = this.now() + this.#retryMs
        return stale
      }
      // Ends once a lookup runs with no change in between; changes are admin actions, so few.
      if (generation !== this.#generation) continue
      // Requests that waited on the same lookup share the entry the first of them made.
      const made = this.#cache.get(hash)
      if (made !== undefined && made.record === record) return made
      const entry: Cached = { record, until: this.now() + (record === null ? this.#negativeTtlMs : this.#ttlMs), retryAt: -Infinity, tiers: null, consumer: null }
      this.#remember(hash, entry)
      return entry
    }
  }

  #load(hash: string): Promise<KeyRecord | null> {
    let pending = this.#inflight.get(hash)
    if (pending === undefined) {
      // Many requests with the same new key ask the database once.
      const started = this.source.findByHash(hash).then(
        (record) => {
          this.#health?.answered()
          return record
        },
        (err: unknown) => {
          this.#health?.failed(err)
          throw err
        },
      ).finally(() => {
        // An invalidate() may have replaced this lookup with a newer one, which stays.
        if (this.#inflight.get(hash) === started) this.#inflight.delete(hash)
      })
      pending = started
      this.#inflight.set(hash, pending)
    }
    return pending
  }

  #remember(hash: string, entry: Cached): void {
    this.#cache.delete(hash)
    this.#cache.set(hash, entry)
    if (this.#cache.size > this.#maxEntries) {
      const oldest = this.#cache.keys().next().value
      if (oldest !== undefined) this.#cache.delete(oldest)
    }
  }
}
