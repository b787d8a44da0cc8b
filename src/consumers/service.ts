import { randomUUID } from 'node:crypto'
import type { ConsumerRow, Store, VirtualKeyRow } from '../store/types.js'
import { generateVirtualKey } from '../core/virtual-keys/index.js'

// Creating consumers and keys, shared by the admin API and the `sluice keys` command so both
// check the same things and store the same shapes.

const namePattern = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/

export class ConsumerInputError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message)
    this.name = 'ConsumerInputError'
  }
}

export interface NewConsumer {
  readonly name: string
  readonly tier: string | null
  readonly overrides?: Readonly<Record<string, unknown>> | null
}

export async function createConsumer(store: Store, tiers: ReadonlySet<string>, input: NewConsumer, now: number): Promise<ConsumerRow> {
  if (!namePattern.test(input.name)) throw new ConsumerInputError('name', 'use 1 to 128 letters, digits and . _ @ -, starting with a letter or digit')
  if (input.tier !== null && !tiers.has(input.tier)) throw new ConsumerInputError('tier', `unknown tier "${input.tier}" (the config has ${[...tiers].join(', ') || 'none'})`)
  if (await store.consumers.getByName(input.name)) throw new ConsumerInputError('name', `a consumer named "${input.name}" exists already`)
  const row: ConsumerRow = { id: `con_${randomUUID()}`, name: input.name, tier: input.tier, overrides: input.overrides ?? null, disabled: false, createdAt: now, updatedAt: now }
  await store.consumers.create(row)
  return row
}

export interface CreatedKey {
  /** The key itself: shown once, never stored. */
  readonly secret: string
  readonly key: VirtualKeyRow
}

export async function createKey(store: Store, consumerId: string, opts: { readonly name?: string | null; readonly expiresAt?: number | null }, now: number): Promise<CreatedKey> {
  if (opts.expiresAt != null && opts.expiresAt <= now) throw new ConsumerInputError('expires_at', 'the expiry must be in the future')
  const generated = generateVirtualKey()
  const key: VirtualKeyRow = {
    id: `key_${randomUUID()}`,
    consumerId,
    prefix: generated.prefix,
    name: opts.name ?? null,
    createdAt: now,
    expiresAt: opts.expiresAt ?? null,
    revokedAt: null,
    lastUsedAt: null,
  }
  await store.virtualKeys.create(key, generated.hash)
  return { secret: generated.secret, key }
}
