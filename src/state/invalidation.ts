// Changes made through one instance's admin API that every instance must apply at once: a
// revoked or disabled virtual key, a consumer's tier or limits, an upstream key's concurrency
// mode (fixed or learned: read back from the shared database). Published to all (the sender
// too); the auth cache's TTL stays the backstop for a message lost while Redis was away.

export interface Invalidation {
  readonly kind: 'virtual-key-revoked' | 'consumer-disabled' | 'consumer-changed' | 'tier-changed' | 'key-limit-changed'
  /** The virtual key's hash prefix, the consumer id, the tier name or the upstream key's limit id. */
  readonly id: string
  /** The instance that made the change. */
  readonly from: string
}

export const invalidationKinds = ['virtual-key-revoked', 'consumer-disabled', 'consumer-changed', 'tier-changed', 'key-limit-changed'] as const satisfies readonly Invalidation['kind'][]

export interface InvalidationBus {
  publish(event: Invalidation): Promise<void>
  /** Resolves once subscribed; returns an unsubscribe function. */
  subscribe(listener: (event: Invalidation) => void): Promise<() => Promise<void>>
}

/** Parses a message from the channel; null for anything that is not one (never throws). */
export function parseInvalidation(text: string): Invalidation | null {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return null
  }
  if (typeof value !== 'object' || value === null) return null
  const { kind, id, from } = value as Record<string, unknown>
  if (!(invalidationKinds as readonly unknown[]).includes(kind) || typeof id !== 'string' || typeof from !== 'string') return null
  return { kind: kind as Invalidation['kind'], id, from }
}
