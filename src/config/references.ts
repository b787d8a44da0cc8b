// The rules that relate one part of sluice.yaml to another (a target names a provider that
// exists, a fallback a model), apart from the field schemas: the schema applies them to a valid
// config, and the loader to a raw one that failed elsewhere, so both kinds of problem are
// reported in the same run.

/** The `database` setting when none is given (the schema's default, read here for a raw config too). */
export const defaultDatabaseUrl = 'sqlite:./data/sluice.db'

export interface ReferenceProblem {
  readonly path: (string | number)[]
  readonly message: string
}

/**
 * The cross-field rules on a config that may fail the schema elsewhere: the loader reports them
 * together with the field errors (zod runs a refinement only when every field is valid).
 * Anything malformed here is skipped: the schema reports it.
 */
export function referenceIssues(raw: unknown): readonly ReferenceProblem[] {
  return referenceProblems(referenceShape(raw))
}

/** The cross-field rules of a valid config, each with the path of the offending field so the loader can give its line. */
export function referenceProblems(cfg: ConfigShape): ReferenceProblem[] {
  const problems: ReferenceProblem[] = []
  for (const [id, p] of Object.entries(cfg.providers)) {
    if (p.type === 'azure' && !p.base_url) problems.push({ path: ['providers', id, 'base_url'], message: 'azure providers need base_url (https://NAME.openai.azure.com)' })
    const seen = new Set<string>()
    p.keys.forEach((k, i) => {
      if (k.id === undefined) return
      if (seen.has(k.id)) problems.push({ path: ['providers', id, 'keys', i, 'id'], message: `duplicate key id "${k.id}"` })
      seen.add(k.id)
    })
    const check = p.health_check
    if (check && check.model === undefined && check.path === undefined) {
      problems.push({ path: ['providers', id, 'health_check'], message: 'a health check needs model (a one-token chat request) or path (GET on a self-hosted server)' })
    }
    // As Higress refuses it: failover whose probes cannot run would keep a key out forever.
    if (p.failover.enabled && !check) {
      problems.push({ path: ['providers', id, 'failover', 'enabled'], message: 'failover needs health_check.model (the model a probe asks for one token), or health_check.path for a self-hosted server' })
    }
  }
  const names = new Set<string>()
  for (const [name, m] of Object.entries(cfg.models)) {
    names.add(name)
    for (const alias of m.aliases) if (alias !== undefined) names.add(alias)
  }
  const patterns = [...names].filter((n) => n.includes('*')).map(wildcardPattern)
  const aliasOwner = new Map<string, string>()
  for (const [name, m] of Object.entries(cfg.models)) {
    m.targets.forEach((t, i) => {
      if (t.provider !== undefined && !Object.hasOwn(cfg.providers, t.provider)) problems.push({ path: ['models', name, 'targets', i, 'provider'], message: `unknown provider "${t.provider}"` })
      if (m.split && (t.group === undefined || !Object.hasOwn(m.split, t.group))) {
        problems.push({ path: ['models', name, 'targets', i, 'group'], message: `with a split, every target names one of its groups (${Object.keys(m.split).join(', ')})` })
      }
    })
    if (m.split) {
      for (const group of Object.keys(m.split)) {
        if (!m.targets.some((t) => t.group === group)) problems.push({ path: ['models', name, 'split', group], message: `no target is in group "${group}"` })
      }
    }
    if (m.ab_test && !m.split) problems.push({ path: ['models', name, 'ab_test'], message: 'an A/B test needs `split` to name its groups and their weights' })
    m.aliases.forEach((alias, i) => {
      if (alias === undefined) return
      const owner = aliasOwner.get(alias)
      if (Object.hasOwn(cfg.models, alias) || (owner !== undefined && owner !== name)) problems.push({ path: ['models', name, 'aliases', i], message: `"${alias}" already names another model` })
      aliasOwner.set(alias, name)
    })
    m.fallbacks.forEach((fallback, i) => {
      if (fallback === undefined) return
      if (fallback === name || m.aliases.includes(fallback)) problems.push({ path: ['models', name, 'fallbacks', i], message: 'a model cannot fall back to itself' })
      else if (!names.has(fallback) && !patterns.some((p) => p.test(fallback))) problems.push({ path: ['models', name, 'fallbacks', i], message: `unknown model "${fallback}" (fallbacks name models, aliases or names a wildcard model matches)` })
    })
  }
  if (cfg.cors.credentials && cfg.cors.origins.includes('*')) {
    problems.push({ path: ['cors', 'credentials'], message: 'credentials cannot be allowed for every origin ("*"): list the origins' })
  }
  const adminKeys = new Set(cfg.admin.keys)
  cfg.admin.read_only_keys.forEach((k, i) => {
    if (k !== undefined && adminKeys.has(k)) problems.push({ path: ['admin', 'read_only_keys', i], message: 'this key is also an admin key' })
  })
  if (usesRedis(cfg.state) && typeof cfg.database === 'string' && cfg.database.startsWith('sqlite:')) {
    problems.push({
      path: ['state'],
      message: sqliteBesideRedis(cfg.database),
    })
  }
  if (cfg.passthrough && !Object.hasOwn(cfg.providers, cfg.passthrough.provider)) {
    problems.push({ path: ['passthrough', 'provider'], message: `unknown provider "${cfg.passthrough.provider}"` })
  }
  return problems
}

/** Why Redis state is refused beside a SQLite database; also said at start for a database given apart from the file. */
export function sqliteBesideRedis(database: string): string {
  return `state on Redis needs a shared database: every instance must read the same consumers, virtual keys and learned limits, and a SQLite file (${database}) belongs to one process on one machine. Set database: postgres://…, or state: memory for one instance`
}

/** `state: redis://…`, `rediss://…` or `{ url: … }`; anything malformed is the schema's to report. */
function usesRedis(state: unknown): boolean {
  if (typeof state === 'string') return /^rediss?:\/\//.test(state)
  return isRecord(state) && typeof state.url === 'string'
}

/** `llama-*` → /^llama-.*$/: a star matches any run of characters, everything else itself. */
export function wildcardPattern(pattern: string): RegExp {
  return new RegExp(`^${pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`)
}

export interface ConfigShape {
  providers: Record<string, { type: string; base_url?: string | undefined; keys: { id?: string | undefined }[]; health_check: { model?: string | undefined; path?: string | undefined } | null; failover: { enabled: boolean } }>
  /** `provider` is undefined where it cannot be checked (not a string, or `providers` itself is malformed). */
  models: Record<string, { targets: { provider?: string | undefined; group?: string | undefined }[]; aliases: (string | undefined)[]; fallbacks: (string | undefined)[]; split: Record<string, number> | null; ab_test: unknown }>
  passthrough: { provider: string } | null
  cors: { origins: (string | undefined)[]; credentials: boolean }
  admin: { keys: (string | undefined)[]; read_only_keys: (string | undefined)[] }
  state: unknown
  database: unknown
}

/** The parts of a raw (unvalidated) config the cross-field rules read, with what is malformed left out. */
function referenceShape(raw: unknown): ConfigShape {
  const root = record(raw)
  const providersKnown = isRecord(root.providers)
  const providers: ConfigShape['providers'] = {}
  for (const [id, value] of Object.entries(record(root.providers))) {
    const p = record(value)
    // A health_check that is there but malformed still counts as there: the schema reports it.
    const check = p.health_check === undefined || p.health_check === null ? null : record(p.health_check)
    providers[id] = {
      type: typeof p.type === 'string' ? p.type : '',
      base_url: typeof p.base_url === 'string' ? p.base_url : p.base_url === undefined ? undefined : 'malformed',
      keys: list(p.keys).map((k) => ({ id: isRecord(k) && typeof k.id === 'string' ? k.id : undefined })),
      health_check: check === null ? null : isRecord(p.health_check) ? { model: present(check.model), path: present(check.path) } : { model: 'malformed' },
      failover: { enabled: record(p.failover).enabled === true },
    }
  }
  const models: ConfigShape['models'] = {}
  for (const [name, value] of Object.entries(record(root.models))) {
    const m = record(value)
    const split = isRecord(m.split) ? Object.fromEntries(Object.keys(m.split).map((g) => [g, 1])) : null
    models[name] = {
      targets: list(m.targets).map((t) => {
        const target = record(t)
        return {
          provider: providersKnown && typeof target.provider === 'string' ? target.provider : undefined,
          group: typeof target.group === 'string' ? target.group : undefined,
        }
      }),
      aliases: strings(m.aliases),
      fallbacks: strings(m.fallbacks),
      split,
      ab_test: isRecord(m.ab_test) ? m.ab_test : null,
    }
  }
  const passthrough = record(root.passthrough)
  const cors = record(root.cors)
  const admin = record(root.admin)
  return {
    providers,
    models,
    passthrough: providersKnown && typeof passthrough.provider === 'string' ? { provider: passthrough.provider } : null,
    cors: { origins: strings(cors.origins), credentials: cors.credentials === true },
    admin: { keys: strings(admin.keys), read_only_keys: strings(admin.read_only_keys) },
    state: root.state,
    database: root.database === undefined ? defaultDatabaseUrl : root.database,
  }
}

function present(value: unknown): string | undefined {
  return value === undefined ? undefined : String(value)
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function record(value: unknown): Record<string, unknown> {
  return isRecord(value) ? value : {}
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : []
}

/** Strings keep their index (problems are reported by it); anything else is undefined. */
function strings(value: unknown): (string | undefined)[] {
  return list(value).map((v) => (typeof v === 'string' ? v : undefined))
}
