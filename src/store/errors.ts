/**
 * A write the database refused because of what is already there (`exists`: a consumer name or
 * key hash taken) or missing (`missing`: a key for a consumer that does not exist), or because
 * the request does not pick one row (`ambiguous`: a key prefix shared by several keys). The
 * admin API answers 409 or 404 from it; anything else from the store is a 5xx.
 */
export class StoreConflictError extends Error {
  constructor(
    readonly reason: 'exists' | 'missing' | 'ambiguous',
    message: string,
    opts: { cause?: unknown } = {},
  ) {
    super(message, opts)
    this.name = 'StoreConflictError'
  }
}
