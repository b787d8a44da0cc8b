/**
 * Label lookups in prom-client hash the label object on every call; a request's label sets
 * repeat endlessly (routes × keys × statuses), so children are looked up once and kept.
 */
export class LabelCache<C> {
  readonly #children = new Map<string, C>()
  constructor(private readonly make: (values: readonly string[]) => C) {}

  get(...values: string[]): C {
    const id = values.join('\u0000')
    let child = this.#children.get(id)
    if (child === undefined) this.#children.set(id, (child = this.make(values)))
    return child
  }
}
