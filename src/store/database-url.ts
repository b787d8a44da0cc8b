import { isAbsolute, resolve } from 'node:path'

// Parses the `database` setting into what an adapter needs. Kept apart from open.ts so the
// rules (accepted forms, credential redaction, ?schema=) are tested without a database.

export type DatabaseTarget = SqliteTarget | PostgresTarget

export interface SqliteTarget {
  readonly kind: 'sqlite'
  /** An absolute file path, or `:memory:`. */
  readonly path: string
}

export interface PostgresTarget {
  readonly kind: 'postgres'
  /** What pg connects with: `?schema=` removed, folded into `options` as a search_path. */
  readonly connectionString: string
  /** The schema named by `?schema=`, or null for the server's search_path. */
  readonly schema: string | null
  /** `host:port/database as user`, for error messages: never the password. */
  readonly where: string
  /** Scrubbed from driver messages before they are quoted, as a last line of defence. */
  readonly password: string | null
}

export const acceptedForms = 'sqlite:<path> (relative to the working directory), sqlite::memory:, or postgres://user:password@host:5432/database[?schema=name]'

// Unquoted Postgres identifiers only: the name goes into a `-c search_path=` startup option,
// where quoting rules are awkward and a stray comma or space would silently change meaning.
const schemaName = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/

/**
 * Accepted forms:
 * - `sqlite:./data/sluice.db`: relative to `cwd`;
 * - `sqlite:/abs/path.db`;
 * - `sqlite::memory:`: gone when the process exits;
 * - `postgres://user:password@host:5432/database` (or `postgresql://`). Add `?schema=name` to
 *   keep sluice's tables in that schema (it must exist): sluice connects with
 *   `options=-c search_path=name`, so several deployments or test runs can share one database.
 */
export function parseDatabaseUrl(url: string, cwd: string = process.cwd()): DatabaseTarget {
  if (url.startsWith('sqlite:')) return parseSqlite(url, cwd)
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) return parsePostgres(url)
  throw invalid(url, 'unknown kind of database')
}

function parseSqlite(url: string, cwd: string): SqliteTarget {
  const path = url.slice('sqlite:'.length)
  if (path.trim() === '') throw invalid(url, 'the sqlite path is empty')
  // `sqlite://data/x.db` would otherwise mean the absolute `/data/x.db`, not what anyone writing
  // a URL-looking value expects.
  if (path.startsWith('//')) throw invalid(url, 'write sqlite:/absolute/path or sqlite:./relative/path, without //')
  if (path === ':memory:') return { kind: 'sqlite', path }
  return { kind: 'sqlite', path: isAbsolute(path) ? path : resolve(cwd, path) }
}

function parsePostgres(url: string): PostgresTarget {
  // A password with an unencoded @, / or # still parses, but into the wrong host and path, which
  // errors would then quote with part of the password in them.
  const authority = url.slice(url.indexOf('://') + 3).split('?')[0] as string
  if (authority.includes('#') || authority.indexOf('@') !== authority.lastIndexOf('@') || authority.indexOf('/') < authority.lastIndexOf('@')) {
    throw invalid(url, 'percent-encode @, / and # in the user name and password (%40, %2F, %23)')
  }
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw invalid(url, 'not a valid URL')
  }
  const schema = parsed.searchParams.get('schema')
  if (schema !== null) {
    if (!schemaName.test(schema)) throw invalid(url, `schema "${schema}" must be a plain identifier (letters, digits, _)`)
    parsed.searchParams.delete('schema')
    // Goes into the URL rather than the pool config because pg lets URL parameters win, so a
    // user's own `options=` would otherwise silently drop the search_path.
    const own = parsed.searchParams.get('options')
    parsed.searchParams.set('options', `${own === null ? '' : `${own} `}-c search_path=${schema}`)
  }
  const host = parsed.searchParams.get('host') ?? (parsed.hostname || 'localhost')
  const port = parsed.searchParams.get('port') ?? (parsed.port || '5432')
  const user = decode(parsed.username) || '(default user)'
  const database = decode(parsed.pathname.slice(1)) || '(default database)'
  const where = `${host}:${port}/${database} as ${user}${schema === null ? '' : ` (schema ${schema})`}`
  const password = parsed.password !== '' ? decode(parsed.password) : parsed.searchParams.get('password')
  return { kind: 'postgres', connectionString: parsed.toString(), schema, where, password }
}

function decode(part: string): string {
  try {
    return decodeURIComponent(part)
  } catch {
    return part
  }
}

function invalid(url: string, why: string): Error {
  return new Error(`invalid database setting "${redactUrl(url)}": ${why}; expected ${acceptedForms}`)
}

/**
 * Replaces the password in anything URL-shaped with `***`. Works on strings that are not valid
 * URLs (a typo in the scheme, an unencoded `@` or `/` in the password), so a bad value can be
 * quoted back to the operator without leaking what it carried.
 */
export function redactUrl(value: string): string {
  // pg also reads a password from the query string.
  const redacted = value.replace(/([?&]password=)[^&#]*/gi, '$1***')
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.exec(redacted)
  if (!scheme) return redacted
  const rest = redacted.slice(scheme[0].length)
  const at = rest.lastIndexOf('@')
  if (at < 0) return redacted
  const userinfo = rest.slice(0, at)
  const colon = userinfo.indexOf(':')
  if (colon < 0) return redacted
  return `${scheme[0]}${userinfo.slice(0, colon)}:***${rest.slice(at)}`
}

/** Removes every occurrence of `secret` from `text`. */
export function scrub(text: string, secret: string | null): string {
  return secret === null || secret === '' ? text : text.split(secret).join('***')
}
