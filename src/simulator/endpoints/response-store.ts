/** Responses the simulator created, for GET/DELETE /v1/responses/{id}, cancel and input_items. Bounded: the oldest go first. */
export class ResponseStore {
  readonly #byId = new Map<string, { json: Record<string, unknown>; input: unknown[] }>()

  constructor(private readonly capacity = 1000) {}

  put(id: string, json: Record<string, unknown>, input: unknown[]): void {
    if (this.#byId.size >= this.capacity) this.#byId.delete(this.#byId.keys().next().value as string)
    this.#byId.set(id, { json, input })
  }

  get(id: string): { json: Record<string, unknown>; input: unknown[] } | undefined {
    return this.#byId.get(id)
  }

  delete(id: string): boolean {
    return this.#byId.delete(id)
  }

  clear(): void {
    this.#byId.clear()
  }
}
