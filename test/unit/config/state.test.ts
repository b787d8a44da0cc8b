import { afterAll, describe, expect, it } from 'vitest'
import { compile } from '../../../src/config/compile.js'
import { parseConfigText } from '../../../src/config/load.js'
import { UpstreamPools } from '../../../src/config/pools.js'
import { parseRedisUrl } from '../../../src/state/settings.js'

const base = 'providers: {}\n'
const postgres = 'database: postgres://sluice@db:5432/sluice\n'
const pools = new UpstreamPools()
afterAll(() => pools.close())

function stateOf(text: string, env: Record<string, string> = {}) {
  return compile(parseConfigText(text, 'sluice.yaml', env), { generation: 1, source: 'sluice.yaml', pools, now: () => 0 }).state
}

describe('state: setting', () => {
  it('is memory by default and when named', () => {
    expect(stateOf(base)).toEqual({ kind: 'memory' })
    expect(stateOf(base + 'state: memory\n')).toEqual({ kind: 'memory' })
  })

  it('reads a redis:// URL with its defaults, and rediss:// as TLS', () => {
    expect(stateOf(base + postgres + 'state: redis://127.0.0.1:6379/2\n')).toEqual({
      kind: 'redis',
      host: '127.0.0.1',
      port: 6379,
      db: 2,
      tls: false,
      username: null,
      password: null,
      keyPrefix: 'sluice:',
      commandTimeoutMs: 250,
      where: 'redis://127.0.0.1:6379/2',
    })
    const tls = stateOf(base + postgres + 'state: "rediss://user:p%40ss@cache.example.com"\n')
    expect(tls).toMatchObject({ kind: 'redis', tls: true, host: 'cache.example.com', port: 6379, db: 0, username: 'user', password: 'p@ss' })
    expect(tls.kind === 'redis' && tls.where).toBe('rediss://cache.example.com:6379/0')
  })

  it('takes the object form: a separate password (from the environment) wins, a key prefix, a timeout', () => {
    const text = base + postgres + 'state:\n  url: redis://:inurl@r:7000\n  password: "${REDIS_PASSWORD}"\n  key_prefix: "team-a:"\n  timeout: 100ms\n'
    expect(stateOf(text, { REDIS_PASSWORD: 's3cret' })).toMatchObject({ kind: 'redis', host: 'r', port: 7000, password: 's3cret', keyPrefix: 'team-a:', commandTimeoutMs: 100 })
  })

  it('refuses Redis with a SQLite database, saying why', () => {
    expect(() => parseConfigText(base + 'state: redis://127.0.0.1:6379\n', 'sluice.yaml', {})).toThrow(/state: state on Redis needs a shared database: every instance must read the same consumers.*SQLite file \(sqlite:\.\/data\/sluice\.db\) belongs to one process on one machine\. Set database: postgres/)
    expect(() => parseConfigText(base + 'database: "sqlite::memory:"\nstate: { url: "redis://r" }\n', 'sluice.yaml', {})).toThrow(/needs a shared database/)
  })

  it('reports the SQLite refusal in the same run as the other mistakes', () => {
    let message = ''
    try {
      parseConfigText(base + 'state: redis://127.0.0.1:6379\nqueue: { max_size: -1 }\n', 'sluice.yaml', {})
    } catch (err) {
      message = (err as Error).message
    }
    expect(message).toMatch(/queue\.max_size/)
    expect(message).toMatch(/state: state on Redis needs a shared database/)
  })

  it('refuses what it cannot use, by path', () => {
    expect(() => parseConfigText(base + postgres + 'state: redis\n', 'sluice.yaml', {})).toThrow(/state/)
    expect(() => parseConfigText(base + postgres + 'state: memcached://x\n', 'sluice.yaml', {})).toThrow(/state/)
    expect(() => parseConfigText(base + postgres + 'state: redis://r:6379/x\n', 'sluice.yaml', {})).toThrow(/database number/)
    expect(() => parseConfigText(base + postgres + 'state: { url: "redis://r", key_prefix: "{a}" }\n', 'sluice.yaml', {})).toThrow(/key_prefix: .*no braces/)
    expect(() => parseConfigText(base + postgres + 'state: { url: "redis://r", tls: true }\n', 'sluice.yaml', {})).toThrow(/state/)
  })

  it('never puts the password in `where`', () => {
    const s = parseRedisUrl('redis://admin:hunter2@r:6379/1')
    expect(s.password).toBe('hunter2')
    expect(s.where).not.toContain('hunter2')
  })
})

describe('state.timeout', () => {
  it('is bounded: a Redis call may never wait for ever', () => {
    const withTimeout = (v: string) => base + postgres + `state: { url: "redis://r", timeout: ${v} }\n`
    expect(() => parseConfigText(withTimeout('0'), 'sluice.yaml', {})).toThrow(/state\.timeout/)
    expect(() => parseConfigText(withTimeout('1m'), 'sluice.yaml', {})).toThrow(/state\.timeout: at most 10s/)
    expect(stateOf(withTimeout('1s'))).toMatchObject({ commandTimeoutMs: 1000 })
  })
})
