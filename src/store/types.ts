// The database port. sluice keeps what must survive a restart here: what it has learned about
// each upstream key, the consumers and their virtual keys, and the usage ledger. Adapters
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

/**
 * One consumer: who calls the data plane. Its settings come from its tier in the config, with
 * its overrides on top.
 */
export interface ConsumerRow {
  readonly id: string
  /** Unique. */
  readonly name: string
  /** A tier name from the config; null = no tier (no limits). */
  readonly tier: string | null
  /**
   * Overrides of the tier's settings, as sluice.yaml writes a tier (snake_case: rpm, tpm,
   * budget_usd, budget_period, models, priority {default, max}, weight). Stored whole as JSON;
   * the store does not interpret it.
   */
  readonly overrides: Readonly<Record<string, unknown>> | null
  readonly disabled: boolean
  /** Epoch ms. */
  readonly createdAt: number
  /** Epoch ms. */
  readonly updatedAt: number
}

/** A virtual key as every list shows it: never the key, never its hash. */
export interface VirtualKeyRow {
  readonly id: string
  readonly consumerId: string
  /** The visible start of the key, `sk-sluice-AbCd`. Not unique: 4 characters of a random key collide. */
  readonly prefix: string
  readonly name: string | null
  /** Epoch ms. */
  readonly createdAt: number
  /** Epoch ms; null = never expires. */
  readonly expiresAt: number | null
  /** Epoch ms; null = not revoked. */
  readonly revokedAt: number | null
  /** Epoch ms, as last recorded by touchLastUsed (batched, so minutes late at most). */
  readonly lastUsedAt: number | null
}

/** Fields to change; a field left out keeps its value. */
export interface ConsumerPatch {
  readonly name?: string
  readonly tier?: string | null
  readonly overrides?: Readonly<Record<string, unknown>> | null
  readonly disabled?: boolean
}

export interface ConsumerStore {
  /** Throws StoreConflictError('exists') naming the conflict when the id or name is taken. */
  create(row: ConsumerRow): Promise<void>
  get(id: string): Promise<ConsumerRow | null>
  getByName(name: string): Promise<ConsumerRow | null>
  /** Every consumer, by name. */
  list(): Promise<ConsumerRow[]>
  /**
   * Applies the patch and sets updatedAt to `at`; returns the row as stored, or null when there
   * is no such consumer. Throws StoreConflictError('exists') when a new name is taken.
   */
  update(id: string, patch: ConsumerPatch, at: number): Promise<ConsumerRow | null>
  /**
   * Deletes the consumer and its virtual keys, in one statement (the keys are deleted, not
   * revoked: without their consumer they could never authenticate again). Its usage records
   * stay, for the accounts. False when there was no such consumer. Callers that cache keys
   * must drop this consumer's entries.
   */
  delete(id: string): Promise<boolean>
  count(): Promise<number>
}

/** What the auth lookup returns: the key and its consumer, read together in one query. */
export interface VirtualKeyMatch {
  readonly key: VirtualKeyRow
  readonly consumer: ConsumerRow
}

export interface VirtualKeyStore {
  /**
   * Stores a key: the row and the SHA-256 of the secret (hashVirtualKey), never the secret.
   * Throws when `hash` is not 64 lowercase hex characters or the prefix is longer than 16
   * (both guard against storing the secret by mistake), StoreConflictError('missing') when
   * the consumer does not exist, and StoreConflictError('exists') when the id or hash is taken.
   */
  create(row: VirtualKeyRow, hash: string): Promise<void>
  /**
   * The auth lookup, by the hash of the key a client sent: the key with its consumer, in one
   * query. Revoked and expired keys and disabled consumers are returned too, with the fields
   * that say so: the caller decides (and can say why it refused). The only reader of `hash`.
   */
  findByHash(hash: string): Promise<VirtualKeyMatch | null>
  /** Every key (no argument) or one consumer's, newest first. */
  list(consumerId?: string): Promise<VirtualKeyRow[]>
  /**
   * Revokes the key whose id is `idOrPrefix`, or else the one not yet revoked key whose prefix
   * it is; returns the keys revoked (empty when none matched or it was revoked already). A
   * prefix that several unrevoked keys share throws StoreConflictError('ambiguous') and
   * revokes nothing: four random characters collide, and revoking another consumer's key by
   * accident is worse than asking for the id.
   */
  revoke(idOrPrefix: string, at: number): Promise<VirtualKeyRow[]>
  /**
   * Records that these keys were used at `at`, in one statement. Never moves last_used_at
   * back, so instances that flush out of order agree.
   */
  touchLastUsed(ids: readonly string[], at: number): Promise<void>
}

/** One request, as the usage ledger keeps it. */
export interface UsageRecord {
  /** Epoch ms when it finished. */
  readonly at: number
  readonly requestId: string
  readonly consumerId: string | null
  readonly keyPrefix: string | null
  /** From X-Session-ID. */
  readonly sessionId: string | null
  readonly model: string | null
  /** The deployment that answered (or last tried). */
  readonly deployment: string | null
  /** The HTTP status the client got. */
  readonly status: number
  /** How the request ended: success, client_abort, queue_timeout … */
  readonly outcome: string
  /** Null when nobody reported usage. Whole numbers; fractions are rounded when stored. */
  readonly promptTokens: number | null
  readonly completionTokens: number | null
  readonly costUsd: number
  readonly queueMs: number
  readonly latencyMs: number
  /** The client left before the end: the tokens are what was relayed until then. */
  readonly partial: boolean
  readonly priority: string | null
}

export interface UsageFilter {
  readonly consumerId?: string
  readonly model?: string
  /** Epoch ms, inclusive. */
  readonly from?: number
  /** Epoch ms, exclusive. */
  readonly to?: number
}

export interface UsageQuery extends UsageFilter {
  /** At most maxUsagePage; more is cut to it. */
  readonly limit: number
  readonly offset: number
}

/** The largest page query(), session() and sessions() return. */
export const maxUsagePage = 10_000

export interface UsageTotals {
  readonly requests: number
  readonly promptTokens: number
  readonly completionTokens: number
  readonly costUsd: number
}

/** One X-Session-ID's requests, summed. */
export interface SessionSummary extends UsageTotals {
  readonly sessionId: string
  /** Epoch ms of the session's first and last request. */
  readonly firstAt: number
  readonly lastAt: number
}

/** One consumer's usage on one UTC day. */
export interface DailyUsage extends UsageTotals {
  /** Epoch ms of the day's start (00:00 UTC). */
  readonly day: number
  /** Null for requests without a consumer (auth off). */
  readonly consumerId: string | null
}

export const dayMs = 86_400_000

export interface UsageStore {
  /**
   * Appends records in one transaction, with multi-row inserts; all or nothing. Values that
   * cannot be stored as given are made storable rather than failing the batch (tokens rounded
   * to whole numbers, a non-finite number stored as 0 or null), so one odd record never
   * blocks the ledger.
   */
  appendBatch(records: readonly UsageRecord[]): Promise<void>
  /** Matching records, newest first, and the totals over everything that matches (not just the page). */
  query(q: UsageQuery): Promise<{ records: UsageRecord[]; totals: UsageTotals }>
  /** One session's requests, oldest first (ties in the order they were appended). */
  session(sessionId: string, limit?: number): Promise<UsageRecord[]>
  /** Sessions with a request in the filter's range, most recently active first. */
  sessions(q: UsageQuery): Promise<SessionSummary[]>
  /**
   * Totals per UTC day and consumer over the records that match, oldest day first, then by
   * consumer id (null last); days and consumers without a record are left out.
   */
  daily(f: UsageFilter): Promise<DailyUsage[]>
  /** USD a consumer spent at or after an epoch ms (for budgets: the period's start). */
  spentSince(consumerId: string, since: number): Promise<number>
  /**
   * Deletes records older than an epoch ms; returns how many. Deletes in chunks, so a large
   * backlog never holds a lock (or, on SQLite, the event loop) for long.
   */
  prune(before: number): Promise<number>
}
