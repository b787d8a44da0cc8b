/**
 * What a gateway opened, in the order it opened it. Every way out — a failed start, SIGTERM,
 * shutdown() — runs the same list, last opened first, so nothing opened is left behind and
 * nothing is closed before what depends on it.
 */
export class Closers {
  readonly #list: { readonly name: string; readonly close: () => unknown }[] = []
  #closing: Promise<void> | null = null

  /** Registers how to close something just opened. */
  add(name: string, close: () => unknown): void {
    if (this.#closing !== null) throw new Error(`cannot open ${name}: already closing`)
    this.#list.push({ name, close })
  }

  /** Names of what is still open, oldest first (for tests and logs). */
  get open(): readonly string[] {
    return this.#list.map((c) => c.name)
  }

  /**
   * Closes everything, newest first, each awaited. A closer that fails is reported and the rest
   * still run. Calling it again returns the same promise.
   */
  closeAll(onError: (name: string, err: unknown) => void = () => undefined): Promise<void> {
    this.#closing ??= (async () => {
      for (let c = this.#list.pop(); c !== undefined; c = this.#list.pop()) {
        try {
          await c.close()
        } catch (err) {
          onError(c.name, err)
        }
      }
    })()
    return this.#closing
  }
}
