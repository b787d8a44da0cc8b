import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { parseCommandLine, UsageError } from './cli-args.js'
import { compileState } from './config/compile.js'
import { loadKeysCommandConfig } from './config/load.js'
import { parseDuration } from './config/units.js'
import { ConsumerInputError, createConsumer, createKey } from './consumers/service.js'
import { openStore } from './store/open.js'
import { StoreConflictError } from './store/errors.js'
import type { Store, VirtualKeyRow } from './store/types.js'
import { openSharedState, type StateSettings } from './state/index.js'

export const keysUsage = `Usage:
  sluice keys create --consumer NAME [--tier TIER] [--name LABEL] [--expires 30d]
                                     Create a virtual key (and the consumer, in TIER, if it is new).
                                     Prints the key once on stdout; only its prefix is kept.
  sluice keys list [--consumer NAME] [--json]
  sluice keys revoke PREFIX|ID       Revoke the key(s) with that prefix (sk-sluice-AbCd) or id
Options for all: --config FILE (default ./sluice.yaml or $SLUICE_CONFIG; only its database,
                 tiers and state are read, so no provider secret needs to be set; with state on
                 Redis a revoke reaches the running instances at once),
                 --database URL (overrides the config's database), -h, --help
`

const common = { config: { type: 'string', short: 'c' }, database: { type: 'string' } } as const
const subcommands = {
  create: { options: { ...common, consumer: { type: 'string' }, tier: { type: 'string' }, name: { type: 'string' }, expires: { type: 'string' } }, positionals: 0 },
  list: { options: { ...common, consumer: { type: 'string' }, json: { type: 'boolean' } }, positionals: 0 },
  revoke: { options: common, positionals: 1 },
} as const

type Values = Readonly<Record<string, string | boolean | undefined>>

/**
 * `sluice keys …`: works on the database directly, so it needs no running gateway. Mistakes in
 * the arguments are UsageErrors, a bad config file a ConfigError, a database that cannot be
 * opened a StoreOpenError: the CLI prints each without a stack trace.
 */
export async function keysCommand(args: string[], out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  const [sub, ...rest] = args
  if (sub === undefined) throw new UsageError('which keys command? create, list or revoke')
  if (!Object.hasOwn(subcommands, sub)) throw new UsageError(`unknown keys command "${sub}"`)
  const spec = subcommands[sub as keyof typeof subcommands]
  const { values, positionals } = parseCommandLine(rest, spec.options, spec.positionals) as { values: Values; positionals: readonly string[] }
  if (sub === 'create' && typeof values.consumer !== 'string') throw new UsageError('--consumer is required')
  if (sub === 'revoke' && positionals[0] === undefined) throw new UsageError('revoke needs a key prefix or id')

  const file = typeof values.config === 'string' ? resolve(values.config) : process.env.SLUICE_CONFIG ? resolve(process.env.SLUICE_CONFIG) : existsSync('sluice.yaml') ? resolve('sluice.yaml') : null
  const cfg = file ? loadKeysCommandConfig(file) : null
  const database = typeof values.database === 'string' ? values.database : (cfg?.database ?? 'sqlite:./data/sluice.db')
  const tiers = new Set(Object.keys(cfg?.tiers ?? {}))
  const store = await openStore(database)
  try {
    switch (sub) {
      case 'create':
        return await create(store, tiers, values, out, err)
      case 'list':
        return await list(store, values, out, err)
      default:
        return await revoke(store, positionals[0] as string, cfg === null ? null : compileState(cfg.state), out, err)
    }
  } catch (e) {
    if (e instanceof ConsumerInputError) {
      err.write(`--${e.field === 'expires_at' ? 'expires' : e.field}: ${e.message}\n`)
      return 2
    }
    throw e
  } finally {
    await store.close()
  }
}

async function create(store: Store, tiers: ReadonlySet<string>, values: Values, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const name = values.consumer as string
  const tier = typeof values.tier === 'string' ? values.tier : null
  const now = Date.now()
  let consumer = await store.consumers.getByName(name)
  if (consumer === null) {
    consumer = await createConsumer(store, tiers, { name, tier }, now)
    err.write(`created consumer ${name}${tier === null ? ' (no tier: no limits)' : ` in tier ${tier}`}\n`)
  } else if (tier !== null && tier !== consumer.tier) {
    err.write(`consumer ${name} is in tier ${consumer.tier ?? '(none)'}; change its tier through the admin API, not here\n`)
    return 2
  }
  let expiresAt: number | null = null
  if (typeof values.expires === 'string') {
    try {
      expiresAt = now + parseDuration(values.expires)
    } catch (e) {
      err.write(`--expires: ${(e as Error).message}\n`)
      return 2
    }
  }
  const created = await createKey(store, consumer.id, { name: typeof values.name === 'string' ? values.name : null, expiresAt }, now)
  out.write(`${created.secret}\n`)
  err.write(`key ${created.key.prefix}… for ${name}${expiresAt === null ? '' : `, expires ${new Date(expiresAt).toISOString()}`}. It is shown only now: store it safely.\n`)
  return 0
}

async function list(store: Store, values: Values, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  let consumerId: string | undefined
  const names = new Map((await store.consumers.list()).map((c) => [c.id, c.name]))
  if (typeof values.consumer === 'string') {
    const c = await store.consumers.getByName(values.consumer)
    if (c === null) {
      err.write(`no consumer named ${values.consumer}\n`)
      return 1
    }
    consumerId = c.id
  }
  const keys = await store.virtualKeys.list(consumerId)
  if (values.json === true) {
    out.write(JSON.stringify(keys.map((k) => ({ ...describe(k), consumer: names.get(k.consumerId) ?? null })), null, 2) + '\n')
    return 0
  }
  out.write(['PREFIX', 'CONSUMER', 'NAME', 'CREATED', 'EXPIRES', 'STATE'].join('\t') + '\n')
  const now = Date.now()
  for (const k of keys) {
    const state = k.revokedAt !== null ? 'revoked' : k.expiresAt !== null && k.expiresAt <= now ? 'expired' : 'active'
    out.write([k.prefix, names.get(k.consumerId) ?? k.consumerId, k.name ?? '-', iso(k.createdAt), k.expiresAt === null ? '-' : iso(k.expiresAt), state].join('\t') + '\n')
  }
  return 0
}

async function revoke(store: Store, target: string, state: StateSettings | null, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  let revoked: VirtualKeyRow[]
  try {
    revoked = await store.virtualKeys.revoke(target, Date.now())
  } catch (e) {
    if (e instanceof StoreConflictError && e.reason === 'ambiguous') {
      err.write(`several active keys start with ${target}: revoke one by its id (sluice keys list --json shows them)\n`)
      return 1
    }
    throw e
  }
  if (revoked.length === 0) {
    err.write(`no active key has the prefix or id ${target}\n`)
    return 1
  }
  for (const k of revoked) out.write(`revoked ${k.prefix} (${k.id})\n`)
  if (state !== null && state.kind === 'redis' && (await publishRevoke(state, target, err))) {
    err.write('running gateways on this Redis refuse it at once\n')
    return 0
  }
  // A running gateway trusts a key it has seen for up to 30 s before asking the database again.
  err.write('running gateways refuse it within 30 s (at once if revoked through the admin API)\n')
  return 0
}

/** Tells the running instances (their invalidation channel); false when Redis cannot be reached (the cache TTL then applies). */
async function publishRevoke(settings: StateSettings, target: string, err: NodeJS.WritableStream): Promise<boolean> {
  try {
    const shared = await openSharedState(settings, { instanceId: 'sluice-keys-cli' })
    try {
      await shared.invalidation.publish({ kind: 'virtual-key-revoked', id: target, from: shared.instanceId })
      return true
    } finally {
      await shared.close()
    }
  } catch (e) {
    err.write(`could not tell the running gateways through Redis (${(e as Error).message})\n`)
    return false
  }
}

function describe(k: VirtualKeyRow) {
  return { id: k.id, prefix: k.prefix, name: k.name, created_at: iso(k.createdAt), expires_at: k.expiresAt === null ? null : iso(k.expiresAt), revoked_at: k.revokedAt === null ? null : iso(k.revokedAt) }
}

function iso(ms: number): string {
  return new Date(ms).toISOString()
}
