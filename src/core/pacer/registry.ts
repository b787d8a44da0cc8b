import { KeyPacer, type PacerLimits } from './key-pacer.js'

/**
 * Every key's pacer by id. Pacers hold what sluice has learned about a key, so a reload hands
 * the same object to the new config generation and only updates its configured ceilings.
 */
export class PacerRegistry {
  readonly #pacers = new Map<string, KeyPacer>()

  obtain(provider: string, key: string, model: string | null, limits: PacerLimits): KeyPacer {
    const id = model === null ? `${provider}/${key}` : `${provider}/${key}/${model}`
    let pacer = this.#pacers.get(id)
    if (pacer) pacer.configure(limits)
    else this.#pacers.set(id, (pacer = new KeyPacer(id, provider, key, model, limits)))
    return pacer
  }

  /** Forgets pacers the live config no longer uses (requests still running keep their object). */
  retain(ids: ReadonlySet<string>): void {
    for (const id of this.#pacers.keys()) if (!ids.has(id)) this.#pacers.delete(id)
  }

  all(): IterableIterator<KeyPacer> {
    return this.#pacers.values()
  }
}
