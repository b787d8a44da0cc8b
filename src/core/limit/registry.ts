import type { KeyLearning, ModeOverride } from '../../store/types.js'
import { ConcurrencyLimit, type EpochMs } from './concurrency-limit.js'

/** The id the admin API and the store use for a key: `~` cannot occur in provider or key ids. */
export function limitId(provider: string, key: string): string {
  return `${provider}~${key}`
}

interface Entry {
  readonly limit: ConcurrencyLimit
  /** The config file's max_concurrent for this key at the last compile (null = adaptive). */
  configValue: number | null
  override: ModeOverride | null
  /** `limit.version` when last handed to the store; -1 = never stored. */
  savedVersion: number
}

/**
 * Every key's concurrency limit, by id. Like the pacers, a limit is long-lived: reloads keep the
 * object, and with it the permits held and what was learned. It also decides which mode wins:
 * an admin's choice overrides the config file until the file changes that key's value again.
 */
export class LimitRegistry {
  readonly #entries = new Map<string, Entry>()
  /** Stored state for keys the config does not (yet) name, so an edit that re-adds a key finds it. */
  readonly #stored = new Map<string, KeyLearning>()
  /** Limits of keys the config dropped, kept with their permits and changes (see retain). */
  readonly #retired = new Map<string, Entry>()
  #onChange: (() => void) | null = null

  /** The limit of `provider`/`key`, with the config file's `max_concurrent` (null = adaptive). */
  obtain(provider: string, key: string, configValue: number | null): ConcurrencyLimit {
    const id = limitId(provider, key)
    let entry = this.#entries.get(id) ?? this.#revive(id)
    if (!entry) {
      const limit = new ConcurrencyLimit({ id, provider, key, fixed: configValue })
      limit.onChange = this.#onChange
      entry = { limit, configValue, override: null, savedVersion: -1 }
      this.#entries.set(id, entry)
      const stored = this.#stored.get(id)
      if (stored) {
        this.#stored.delete(id)
        this.#adopt(entry, stored)
      }
    }
    entry.configValue = configValue
    this.#applyMode(entry)
    return entry.limit
  }

  /** What an earlier run stored, taken up at start: by the limits the config names, and kept for the others. */
  restore(records: readonly KeyLearning[]): void {
    for (const record of records) {
      const entry = this.#entries.get(record.id)
      if (!entry) {
        this.#stored.set(record.id, record)
        continue
      }
      this.#adopt(entry, record)
      this.#applyMode(entry)
    }
  }

  #adopt(entry: Entry, stored: KeyLearning): void {
    entry.limit.restore(stored)
    entry.override = stored.override
    entry.savedVersion = entry.limit.version
  }

  #applyMode(entry: Entry): void {
    if (entry.override !== null && entry.override.configValue !== entry.configValue) {
      // The file now says something else about this key than when the admin chose: the file wins.
      entry.override = null
      entry.limit.markChanged()
    }
    const fixed = entry.override === null ? entry.configValue : entry.override.maxConcurrent
    if (entry.limit.fixed !== fixed) entry.limit.setFixed(fixed)
  }

  /** Called after any limit changes in a way worth persisting. */
  set onChange(listener: (() => void) | null) {
    this.#onChange = listener
    for (const entry of this.#entries.values()) entry.limit.onChange = listener
  }

  get(id: string): ConcurrencyLimit | undefined {
    return this.#entries.get(id)?.limit
  }

  /** Admin: fixed at `maxConcurrent`, or adaptive (null), until the config file changes this key. */
  override(id: string, maxConcurrent: number | null, now: EpochMs): ConcurrencyLimit | undefined {
    const entry = this.#entries.get(id)
    if (!entry) return undefined
    entry.override = { maxConcurrent, configValue: entry.configValue, setAt: now }
    entry.limit.setFixed(maxConcurrent)
    return entry.limit
  }

  /** Another instance's admin changed `id`'s mode (state: redis): its override, as stored, is this one's too. */
  adoptOverride(id: string, override: ModeOverride | null): ConcurrencyLimit | undefined {
    const entry = this.#entries.get(id)
    if (!entry) return undefined
    entry.override = override
    this.#applyMode(entry)
    return entry.limit
  }

  overrideOf(id: string): ModeOverride | null {
    return this.#entries.get(id)?.override ?? null
  }

  /**
   * Sets aside keys the live config no longer names. Requests still running on such a key keep
   * its limit object, so a config that names the key again gets the same object back, permits
   * held included, instead of a fresh one that would admit past the limit.
   */
  retain(ids: ReadonlySet<string>): void {
    for (const [id, entry] of this.#entries) {
      if (ids.has(id)) continue
      this.#entries.delete(id)
      this.#retired.set(id, entry)
    }
  }

  #revive(id: string): Entry | undefined {
    const entry = this.#retired.get(id)
    if (entry) {
      this.#retired.delete(id)
      this.#entries.set(id, entry)
    }
    return entry
  }

  all(): IterableIterator<ConcurrencyLimit> {
    return [...this.#entries.values()].map((e) => e.limit).values()
  }

  /** Records changed since they were last taken, marked as taken. */
  takeChanged(): KeyLearning[] {
    const changed: KeyLearning[] = []
    for (const entry of [...this.#entries.values(), ...this.#retired.values()]) {
      if (entry.limit.version === entry.savedVersion) continue
      entry.savedVersion = entry.limit.version
      changed.push(record(entry))
    }
    return changed
  }

  /** Marks `id` as not stored, so the next takeChanged() hands it out again (after a failed write). */
  unsaved(id: string): void {
    const entry = this.#entries.get(id)
    if (entry) entry.savedVersion = -1
  }
}

function record(entry: Entry): KeyLearning {
  const { limit } = entry
  return { id: limit.id, provider: limit.provider, key: limit.key, override: entry.override, ...limit.learnedState() }
}
