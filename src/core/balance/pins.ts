/**
 * Which upstream key created an object (a file, a batch, a stored response): later requests
 * that name the object must reach the same key, since another key — often another account —
 * cannot see it. Bounded: the least recently used pins go first, so a busy gateway forgets
 * old objects rather than growing without end.
 */
export class PinTable {
  readonly #pins = new Map<string, string>()

  constructor(readonly capacity = 50_000) {}

  get size(): number {
    return this.#pins.size
  }

  pin(objectId: string, keyId: string): void {
    this.#pins.delete(objectId)
    this.#pins.set(objectId, keyId)
    if (this.#pins.size > this.capacity) {
      const oldest = this.#pins.keys().next().value
      if (oldest !== undefined) this.#pins.delete(oldest)
    }
  }

  /** The key that created `objectId`, or undefined when this gateway never saw it created. */
  keyOf(objectId: string): string | undefined {
    const key = this.#pins.get(objectId)
    if (key === undefined) return undefined
    // Touched: still in use, so kept longest.
    this.#pins.delete(objectId)
    this.#pins.set(objectId, key)
    return key
  }
}
