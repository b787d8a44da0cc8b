// The database port. sluice keeps what must survive a restart here: what it has learned about
// each upstream key now, consumers, virtual keys and the usage ledger later. Adapters
// (sqlite/, postgres/) implement it; everything else sees only these types.

/** One change of a key's learned concurrency limit, as the adaptive admin API reports it. */
export interface LimitAdjustment {
  /** ISO 8601 instant. */
  readonly timestamp: string
  readonly old_limit: number
  readonly new_limit: number
  readonly reason: string
  /** Requests in flight on the key when the change was made. */
  readonly inflight: number
}

/** An admin's choice of mode for one key, which wins over the config file until the file changes that key. */
export interface ModeOverride {
  /** null = adaptive; a number = fixed at that many concurrent requests. */
  readonly maxConcurrent: number | null
  /**
   * The config file's `max_concurrent` for this key when the override was made (null =
   * adaptive). When the file later says something else, the file wins again.
   */
  readonly configValue: number | null
  /** Epoch milliseconds. */
  readonly setAt: number
}

/** What sluice knows about one upstream key's concurrency. Never the secret. */
export interface KeyLearning {
  /** `provider~key`: the id the admin API uses. */
  readonly id: string
  readonly provider: string
  /** The key's `id` in the config file. */
  readonly key: string
  readonly override: ModeOverride | null
  /** The learned limit L (fractional; floor(L) is enforced); null = never learned. */
  readonly learnedLimit: number | null
  /** Ĉ: the highest level the upstream accepted, from the last concurrency 429 or probe. */
  readonly acceptedLevel: number | null
  readonly concurrent429Count: number
  readonly rpm429Count: number
  readonly tpm429Count: number
  /** Epoch milliseconds. */
  readonly last429At: number | null
  readonly last429Type: string | null
  /** Epoch milliseconds of the last upward probe of Ĉ. */
  readonly lastProbeAt: number | null
  /** Oldest first, at most 20. */
  readonly history: readonly LimitAdjustment[]
}

export interface KeyLearningStore {
  /** Every stored key. */
  loadAll(): Promise<KeyLearning[]>
  /** Inserts or replaces each record by id, all in one transaction. */
  saveAll(records: readonly KeyLearning[]): Promise<void>
}

export interface Store {
  /** `sqlite` or `postgres`, for logs and /status. */
  readonly kind: 'sqlite' | 'postgres'
  readonly keyLearning: KeyLearningStore
  /** Closes connections; pending writes finish first. */
  close(): Promise<void>
}
