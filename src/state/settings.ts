// What the `state:` setting compiles to, and the rules for reading a Redis URL. Kept apart from
// the Redis adapter so the config compiler can check a URL without loading a client.

export type StateSettings = MemoryStateSettings | RedisStateSettings

/** One instance: every limit lives in this process (the default). */
export interface MemoryStateSettings {
  readonly kind: 'memory'
}

/** Several instances share their limits through one Redis. */
export interface RedisStateSettings {
  readonly kind: 'redis'
  readonly host: string
  readonly port: number
  readonly db: number
  readonly tls: boolean
  readonly username: string | null
  /** From the URL or `password:`; never logged (see `where`). */
  readonly password: string | null
  /** Prepended to every key and channel, so several gateways (or tests) can share one Redis. */
  readonly keyPrefix: string
  /** Longest wait for one Redis call before it fails (fail fast: no request hangs on Redis). */
  readonly commandTimeoutMs: number
  /** `redis://host:port/db`, for messages: never the password. */
  readonly where: string
}

export const defaultKeyPrefix = 'sluice:'
export const defaultCommandTimeoutMs = 250

// A hash tag is the text between the first `{` and the next `}`: a prefix holding either would
// move every key into the prefix's slot, or split one key's state across slots.
export const keyPrefixPattern = /^[A-Za-z0-9:._-]{1,64}$/

/**
 * `redis://[user:password@]host[:port][/db]` or `rediss://…` (TLS). A password given apart
 * (`password:`, usually `${REDIS_PASSWORD}`) wins over one in the URL.
 */
export function parseRedisUrl(
  url: string,
  opts: { password?: string | null; keyPrefix?: string; commandTimeoutMs?: number } = {},
): RedisStateSettings {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new Error(`invalid state URL: expected redis://host:6379/0 or rediss://host:6380/0`)
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') throw new Error(`invalid state URL: the scheme must be redis:// or rediss://, not ${parsed.protocol}//`)
  if (parsed.hostname === '') throw new Error('invalid state URL: no host')
  const dbText = parsed.pathname.replace(/^\//, '')
  if (!/^\d{0,2}$/.test(dbText)) throw new Error(`invalid state URL: the path must be a database number (/0 … /15), not /${dbText}`)
  if (parsed.search !== '') throw new Error('invalid state URL: no query parameters are read (write the password in the URL or in state.password)')
  const tls = parsed.protocol === 'rediss:'
  const port = parsed.port === '' ? 6379 : Number(parsed.port)
  const db = dbText === '' ? 0 : Number(dbText)
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1')
  const username = parsed.username === '' ? null : decodeURIComponent(parsed.username)
  const urlPassword = parsed.password === '' ? null : decodeURIComponent(parsed.password)
  const keyPrefix = opts.keyPrefix ?? defaultKeyPrefix
  if (!keyPrefixPattern.test(keyPrefix)) throw new Error(`invalid state key prefix "${keyPrefix}": use 1 to 64 letters, digits and : . _ - (no braces: they would change the hash slots)`)
  return Object.freeze({
    kind: 'redis',
    host,
    port,
    db,
    tls,
    username,
    password: opts.password ?? urlPassword,
    keyPrefix,
    commandTimeoutMs: opts.commandTimeoutMs ?? defaultCommandTimeoutMs,
    where: `${parsed.protocol}//${parsed.hostname}:${port}/${db}`,
  })
}
