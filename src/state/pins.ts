// Which upstream key created an object (a file, a batch, a stored response), shared: a request
// naming the object reaches the same key whichever instance it arrives at. Bounded by time
// rather than by count (src/core/balance/pins.ts bounds the in-process table by count).

export interface PinStore {
  pin(objectId: string, keyId: string, ttlMs: number): Promise<void>
  /** The key that created `objectId`, or null when unknown or expired. */
  keyOf(objectId: string): Promise<string | null>
  /** The object was deleted. */
  unpin(objectId: string): Promise<void>
}
