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
  readonly consumers: ConsumerStore
  readonly virtualKeys: VirtualKeyStore
  readonly usage: UsageStore
  /** Closes connections; pending writes finish first. */
  close(): Promise<void>
}

/** One consumer: who calls the data plane. Its settings come from its tier, with its overrides on top. */
export interface ConsumerRow {
  readonly id: string
  readonly name: string
  readonly tier: string | null
  /** Overrides of the tier's settings, as sluice.yaml writes a tier (snake_case). */
  readonly overrides: Readonly<Record<string, unknown>> | null
  readonly disabled: boolean
  /** Epoch ms. */
  readonly createdAt: number
  readonly updatedAt: number
}

/** A virtual key as lists show it: never the key, never its hash. */
export interface VirtualKeyRow {
  readonly id: string
  readonly consumerId: string
  /** The visible start of the key, `sk-sluice-AbCd`. */
  readonly prefix: string
  readonly name: string | null
  readonly createdAt: number
  readonly expiresAt: number | null
  readonly revokedAt: number | null
  readonly lastUsedAt: number | null
}

export interface ConsumerPatch {
  readonly name?: string
  readonly tier?: string | null
  readonly overrides?: Readonly<Record<string, unknown>> | null
  readonly disabled?: boolean
}

export interface ConsumerStore {
  /** Fails with a message naming the conflict when the name is taken. */
  create(row: ConsumerRow): Promise<void>
  get(id: string): Promise<ConsumerRow | null>
  getByName(name: string): Promise<ConsumerRow | null>
  list(): Promise<ConsumerRow[]>
  update(id: string, patch: ConsumerPatch, at: number): Promise<ConsumerRow | null>
  /** Deletes the consumer and its keys (its usage records stay); false when there was none. */
  delete(id: string): Promise<boolean>
  count(): Promise<number>
}

export interface VirtualKeyStore {
  create(row: VirtualKeyRow, hash: string): Promise<void>
  /** The auth lookup: the key with its consumer, revoked and expired ones included (the caller decides). */
  findByHash(hash: string): Promise<{ key: VirtualKeyRow; consumer: ConsumerRow } | null>
  /** Every key, or one consumer's, newest first. */
  list(consumerId?: string): Promise<VirtualKeyRow[]>
  /** Revokes the keys whose id or prefix is `idOrPrefix` and that are not revoked yet; returns them. */
  revoke(idOrPrefix: string, at: number): Promise<VirtualKeyRow[]>
  touch(ids: readonly string[], at: number): Promise<void>
}

/** One request, as the usage ledger keeps it. */
export interface UsageRecord {
  /** Epoch ms when it finished. */
  readonly at: number
  readonly requestId: string
  readonly consumerId: string | null
  readonly keyPrefix: string | null
  readonly sessionId: string | null
  readonly model: string | null
  readonly deployment: string | null
  readonly status: number
  readonly outcome: string
  readonly promptTokens: number | null
  readonly completionTokens: number | null
  readonly costUsd: number
  readonly queueMs: number
  readonly latencyMs: number
  /** The client left before the end: the tokens are what was relayed until then. */
  readonly partial: boolean
  readonly priority: string | null
}

export interface UsageQuery {
  readonly consumerId?: string
  readonly model?: string
  /** Epoch ms, inclusive. */
  readonly from?: number
  /** Epoch ms, exclusive. */
  readonly to?: number
  readonly limit: number
  readonly offset: number
}

export interface UsageTotals {
  readonly requests: number
  readonly promptTokens: number
  readonly completionTokens: number
  readonly costUsd: number
}

export interface UsageStore {
  /** Appends a batch in one transaction. */
  append(records: readonly UsageRecord[]): Promise<void>
  /** Matching records, newest first, and the totals over all that match. */
  query(q: UsageQuery): Promise<{ records: UsageRecord[]; totals: UsageTotals }>
  /** A session's requests, oldest first. */
  session(sessionId: string, limit: number): Promise<UsageRecord[]>
  /** USD a consumer spent since an epoch ms. */
  spentSince(consumerId: string, since: number): Promise<number>
  /** Deletes records older than an epoch ms; returns how many. */
  prune(before: number): Promise<number>
}
