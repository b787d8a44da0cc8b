import { z } from 'zod'
import type { ConsumerSettingsInput } from '../core/admit/index.js'
import { TierConfig } from '../config/schema.js'
import { parseDuration } from '../config/units.js'
import { ConsumerInputError, createConsumer, createKey } from '../consumers/service.js'
import { SluiceError } from '../errors.js'
import { StoreConflictError } from '../store/errors.js'
import type { ConsumerPatch, ConsumerRow, Store, VirtualKeyRow } from '../store/types.js'
import type { Invalidation } from '../state/invalidation.js'
import type { AdminRequest, AdminResponse, Router } from './router.js'

// Consumers and their virtual keys. Every change is followed by a word to the auth cache, so
// the very next data-plane request sees it (a revoked key is refused at once, a new tier applies
// at once) — on every instance, when they share state (main.ts publishes the word). A key's secret appears in exactly one answer, the one that creates it; lists show
// its prefix only.

const base = '/api/admin'

/** What the auth stage caches about consumers and keys (the ConsumerDirectory). */
export interface ConsumerCache {
  /** Keys or consumers changed: forget what was cached. `change` says what, for the other instances. */
  invalidate(change: CacheChange): void
  /** A consumer exists now: `auth` unset means required from the next request. */
  consumerCreated(): void
}

/** What changed: a key revoked (its id or prefix), a consumer disabled or otherwise changed (its id). */
export type CacheChange = Pick<Invalidation, 'kind' | 'id'>

export interface ConsumersDeps {
  readonly store: Store
  readonly cache: ConsumerCache
  /** The tiers of the running config: a consumer's tier must be one of them. */
  readonly tiers: () => ReadonlyMap<string, ConsumerSettingsInput>
  /** Wall-clock epoch ms. */
  readonly now: () => number
}

// The rule createConsumer applies; repeated here so a rename is checked the same way.
const namePattern = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/
const nameRule = 'use 1 to 128 letters, digits and . _ @ -, starting with a letter or digit'

// A tier's fields with its bounds but without its defaults: an override names only what it
// changes, and everything it leaves out is inherited from the tier. (TierConfig.partial() would
// fill the defaults in, and so override every field of the tier.)
const tier = TierConfig.shape
const priority = tier.priority.unwrap().shape

/** A consumer's overrides of its tier: any subset of a tier's fields; null removes a limit the tier sets. */
const ConsumerOverrides = z
  .strictObject({
    rpm: tier.rpm.unwrap().optional(),
    tpm: tier.tpm.unwrap().optional(),
    budget_usd: tier.budget_usd.unwrap().optional(),
    budget_period: tier.budget_period.unwrap().optional(),
    models: tier.models.unwrap().optional(),
    priority: z.strictObject({ default: priority.default.unwrap().optional(), max: priority.max.unwrap().optional() }).optional(),
    weight: tier.weight.unwrap().optional(),
  })
  .describe('Overrides of the tier: any of rpm, tpm, budget_usd, budget_period, models, priority {default, max}, weight. Fields left out come from the tier; null removes a limit.')

const consumerName = z.string().regex(namePattern, nameRule).describe('Unique name of the consumer.')
const tierName = z.string().min(1).nullable().describe('A tier of the running config (GET /api/admin/tiers); null for none (no limits).')
const keyName = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[^\p{Cc}]*$/u, 'control characters are not allowed')
  .nullable()
  .describe('A label for the key, shown in lists.')

const NewConsumer = z.strictObject({
  name: consumerName,
  tier: tierName.optional(),
  overrides: ConsumerOverrides.nullable().optional(),
})

const ConsumerChange = z.strictObject({
  name: consumerName.optional(),
  tier: tierName.optional(),
  overrides: ConsumerOverrides.nullable().optional().describe('Replaces the overrides whole; null removes them.'),
  disabled: z.boolean().optional().describe('A disabled consumer\'s keys are refused (401) until it is enabled again.'),
})

const NewKey = z.strictObject({
  name: keyName.optional(),
  expires_at: z.string().optional().describe('When the key stops working: an ISO 8601 instant such as 2030-01-31T00:00:00Z.'),
  expires_in: z.string().optional().describe('Or how long from now: a duration such as 12h, 30d.'),
})

const schemaOf = (schema: z.ZodType): unknown => z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' })

export function addConsumerRoutes(router: Router, deps: ConsumersDeps): void {
  const { store, cache } = deps
  const find = async (r: AdminRequest): Promise<ConsumerRow> => {
    const id = r.params.id as string
    const row = await store.consumers.get(id)
    if (row === null) throw new SluiceError('consumer_not_found', [id])
    return row
  }
  const checkTier = (name: string | null): void => {
    if (name === null) return
    const tiers = deps.tiers()
    if (!tiers.has(name)) throw new SluiceError('invalid_field', ['tier', `unknown tier "${name}" (the running config has ${[...tiers.keys()].join(', ') || 'none'})`], { param: 'tier' })
  }
  const checkNameFree = async (name: string): Promise<void> => {
    if (await store.consumers.getByName(name)) throw new SluiceError('consumer_exists', [name], { param: 'name' })
  }

  router.add('GET', `${base}/consumers`, { role: 'read', summary: 'Every consumer, by name' }, async () => {
    const rows = await store.consumers.list()
    return ok({ object: 'list', data: rows.map(describeConsumer) })
  })

  router.add('POST', `${base}/consumers`, { role: 'admin', summary: 'Create a consumer', body: schemaOf(NewConsumer) }, async (r) => {
    const input = await bodyOf(r, NewConsumer, '{"name": "team-a", "tier": "basic"}')
    const tierName = input.tier ?? null
    checkTier(tierName)
    await checkNameFree(input.name)
    const row = await guard(() => createConsumer(store, new Set(deps.tiers().keys()), { name: input.name, tier: tierName, overrides: overridesOf(input.overrides) }, deps.now()), { name: input.name })
    cache.consumerCreated()
    cache.invalidate({ kind: 'consumer-changed', id: row.id })
    return { status: 201, body: describeConsumer(row) }
  })

  router.add('GET', `${base}/consumers/{id}`, { role: 'read', summary: 'One consumer' }, async (r) => ok(describeConsumer(await find(r))))

  router.add('PATCH', `${base}/consumers/{id}`, { role: 'admin', summary: 'Rename, re-tier, change the overrides of, disable or enable a consumer', body: schemaOf(ConsumerChange) }, async (r) => {
    const current = await find(r)
    const input = await bodyOf(r, ConsumerChange, '{"tier": "premium"} or {"disabled": true}')
    if (input.tier !== undefined) checkTier(input.tier)
    if (input.name !== undefined && input.name !== current.name) await checkNameFree(input.name)
    const patch: { -readonly [K in keyof ConsumerPatch]: ConsumerPatch[K] } = {}
    if (input.name !== undefined) patch.name = input.name
    if (input.tier !== undefined) patch.tier = input.tier
    if (input.overrides !== undefined) patch.overrides = overridesOf(input.overrides)
    if (input.disabled !== undefined) patch.disabled = input.disabled
    const row = await guard(() => store.consumers.update(current.id, patch, deps.now()), input.name === undefined ? {} : { name: input.name })
    cache.invalidate({ kind: input.disabled === true ? 'consumer-disabled' : 'consumer-changed', id: current.id })
    if (row === null) throw new SluiceError('consumer_not_found', [current.id])
    return ok(describeConsumer(row))
  })

  router.add('DELETE', `${base}/consumers/{id}`, { role: 'admin', summary: 'Delete a consumer and its keys (its usage records stay)' }, async (r) => {
    const id = r.params.id as string
    const deleted = await store.consumers.delete(id)
    cache.invalidate({ kind: 'consumer-disabled', id })
    if (!deleted) throw new SluiceError('consumer_not_found', [id])
    return ok({ id, deleted: true })
  })

  router.add('POST', `${base}/consumers/{id}/keys`, { role: 'admin', summary: 'Create a virtual key; the answer holds the key, shown this once', body: schemaOf(NewKey) }, async (r) => {
    const consumer = await find(r)
    const input = await bodyOf(r, NewKey, '{"name": "ci", "expires_in": "30d"}')
    const now = deps.now()
    let expiresAt: number | null = null
    let expiryField = 'expires_at'
    if (input.expires_at !== undefined && input.expires_in !== undefined) {
      throw new SluiceError('invalid_field', ['expires_in', 'give expires_at or expires_in, not both'], { param: 'expires_in' })
    }
    if (input.expires_at !== undefined) expiresAt = parseInstant(input.expires_at, 'expires_at')
    if (input.expires_in !== undefined) {
      expiryField = 'expires_in'
      if (!/^\s*\d+(\.\d+)?\s*(ms|s|m|h|d)\s*$/i.test(input.expires_in)) {
        throw new SluiceError('invalid_field', ['expires_in', 'expected a duration such as 12h or 30d'], { param: 'expires_in' })
      }
      expiresAt = now + parseDuration(input.expires_in)
    }
    const created = await guard(() => createKey(store, consumer.id, { name: input.name ?? null, expiresAt }, now), { fields: { expires_at: expiryField } })
    // A key tried before it existed is remembered as unknown for a few seconds: forget that too.
    cache.invalidate({ kind: 'consumer-changed', id: consumer.id })
    const k = created.key
    return { status: 201, body: { key: created.secret, id: k.id, consumer_id: k.consumerId, prefix: k.prefix, name: k.name, created_at: iso(k.createdAt), expires_at: isoOrNull(k.expiresAt) } }
  })

  router.add('GET', `${base}/consumers/{id}/keys`, { role: 'read', summary: 'A consumer\'s keys, newest first (prefixes only)' }, async (r) => {
    const consumer = await find(r)
    const keys = await store.virtualKeys.list(consumer.id)
    const now = deps.now()
    return ok({ object: 'list', data: keys.map((k) => describeKey(k, now, consumer.name)) })
  })

  router.add('GET', `${base}/keys`, { role: 'read', summary: 'Every virtual key, newest first, with its consumer (prefixes only)' }, async () => {
    const [keys, consumers] = await Promise.all([store.virtualKeys.list(), store.consumers.list()])
    const names = new Map(consumers.map((c) => [c.id, c.name]))
    const now = deps.now()
    return ok({ object: 'list', data: keys.map((k) => describeKey(k, now, names.get(k.consumerId) ?? null)) })
  })

  router.add('POST', `${base}/keys/{id_or_prefix}/revoke`, { role: 'admin', summary: 'Revoke a key by its id, or the one active key with this prefix' }, async (r) => {
    const target = r.params.id_or_prefix as string
    const revoked = await guard(() => store.virtualKeys.revoke(target, deps.now()), { target })
    cache.invalidate({ kind: 'virtual-key-revoked', id: target })
    if (revoked.length === 0) throw new SluiceError('virtual_key_not_found', [target])
    const now = deps.now()
    return ok({ object: 'list', data: revoked.map((k) => describeKey(k, now, null)) })
  })
}

interface GuardContext {
  /** The request's name for a service field (the service says expires_at for expires_in too). */
  readonly fields?: Readonly<Record<string, string>>
  /** The consumer name being created or given. */
  readonly name?: string
  /** The key id or prefix being revoked. */
  readonly target?: string
}

/** The store's and the service's refusals as API errors; anything else is a bug (500). */
async function guard<T>(work: () => Promise<T>, ctx: GuardContext = {}): Promise<T> {
  try {
    return await work()
  } catch (err) {
    // A name taken between the check and the insert: another request made it meanwhile. (The
    // schema has checked the name's form, so a name refusal from the service is this one.)
    if (err instanceof ConsumerInputError && err.field === 'name' && ctx.name !== undefined) throw new SluiceError('consumer_exists', [ctx.name], { param: 'name' })
    if (err instanceof StoreConflictError && err.reason === 'exists' && ctx.name !== undefined) throw new SluiceError('consumer_exists', [ctx.name], { param: 'name' })
    if (err instanceof ConsumerInputError) {
      const field = ctx.fields?.[err.field] ?? err.field
      throw new SluiceError('invalid_field', [field, err.message], { param: field })
    }
    if (err instanceof StoreConflictError && err.reason === 'ambiguous') throw new SluiceError('ambiguous_key_prefix', [ctx.target ?? ''])
    // A consumer deleted while its key was being created.
    if (err instanceof StoreConflictError && err.reason === 'missing') throw new SluiceError('consumer_not_found', [''])
    throw err
  }
}

function overridesOf(value: Readonly<Record<string, unknown>> | null | undefined): Readonly<Record<string, unknown>> | null {
  return value === undefined || value === null || Object.keys(value).length === 0 ? null : value
}

/** The JSON body, checked against `schema`; the first problem is a 400 naming its field. */
export async function bodyOf<S extends z.ZodType>(r: AdminRequest, schema: S, example: string): Promise<z.output<S>> {
  const body = await r.body()
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new SluiceError('invalid_json', [`expected a JSON object such as ${example}`])
  const parsed = schema.safeParse(body, {
    error: (issue) => (issue.code === 'invalid_type' && issue.input === undefined ? 'required' : undefined),
  })
  if (parsed.success) return parsed.data
  const issue = parsed.error.issues[0] as z.core.$ZodIssue
  if (issue.code === 'unrecognized_keys') {
    const param = [...issue.path, issue.keys[0] ?? ''].join('.')
    throw new SluiceError('invalid_field', [param, 'unknown field'], { param })
  }
  const param = issue.path.join('.') || 'body'
  throw new SluiceError('invalid_field', [param, issue.message], { param })
}

const isoInstant = /^(\d{4})-(\d{2})-(\d{2})(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2}))?$/i

/**
 * Epoch ms from an ISO 8601 date (UTC midnight) or instant with its offset (`Z`, `+02:00`), or
 * from a whole number of epoch ms. A time without an offset is refused: read as local time, it
 * would mean something else on every server.
 */
export function parseInstant(value: string, field: string): number {
  if (/^\d{1,15}$/.test(value)) return Number(value)
  const m = isoInstant.exec(value)
  const ms = m ? Date.parse(value) : NaN
  const [y, mo, d] = m ? [Number(m[1]), Number(m[2]), Number(m[3])] : [0, 0, 0]
  // Date.parse rolls 2025-02-30 over to March; a date that does not exist is a typo.
  const real = new Date(Date.UTC(y, mo - 1, d))
  if (!Number.isFinite(ms) || real.getUTCMonth() !== mo - 1 || real.getUTCDate() !== d) {
    throw new SluiceError('invalid_field', [field, 'expected an ISO 8601 date or instant with its offset (2030-01-31, 2030-01-31T12:00:00Z) or epoch milliseconds'], { param: field })
  }
  return ms
}

export function iso(ms: number): string {
  return new Date(ms).toISOString()
}

export function isoOrNull(ms: number | null): string | null {
  return ms === null ? null : iso(ms)
}

function describeConsumer(c: ConsumerRow) {
  return { id: c.id, name: c.name, tier: c.tier, overrides: c.overrides, disabled: c.disabled, created_at: iso(c.createdAt), updated_at: iso(c.updatedAt) }
}

/** A key as every list shows it: never the key, never its hash. */
function describeKey(k: VirtualKeyRow, now: number, consumerName: string | null) {
  const state = k.revokedAt !== null ? 'revoked' : k.expiresAt !== null && k.expiresAt <= now ? 'expired' : 'active'
  return {
    id: k.id,
    consumer_id: k.consumerId,
    ...(consumerName === null ? {} : { consumer: consumerName }),
    prefix: k.prefix,
    name: k.name,
    state,
    created_at: iso(k.createdAt),
    expires_at: isoOrNull(k.expiresAt),
    revoked_at: isoOrNull(k.revokedAt),
    last_used_at: isoOrNull(k.lastUsedAt),
  }
}

export function ok(body: unknown): AdminResponse {
  return { status: 200, body }
}
