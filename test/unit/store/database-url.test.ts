import { describe, expect, it } from 'vitest'
import { parseDatabaseUrl, redactUrl, scrub } from '../../../src/store/database-url.js'

describe('parseDatabaseUrl', () => {
  const cwd = '/srv/sluice'

  it.each([
    ['sqlite:./data/sluice.db', '/srv/sluice/data/sluice.db'],
    ['sqlite:data/sluice.db', '/srv/sluice/data/sluice.db'],
    ['sqlite:../shared/s.db', '/srv/shared/s.db'],
    ['sqlite:/var/lib/sluice/s.db', '/var/lib/sluice/s.db'],
    ['sqlite::memory:', ':memory:'],
  ])('%s → %s', (url, path) => {
    expect(parseDatabaseUrl(url, cwd)).toEqual({ kind: 'sqlite', path })
  })

  it.each([
    ['mysql://x', /invalid database setting "mysql:\/\/x": unknown kind of database; expected sqlite:<path> \(relative to the working directory\), sqlite::memory:, or postgres:\/\//],
    ['sqlite:', /the sqlite path is empty/],
    ['sqlite:   ', /the sqlite path is empty/],
    ['sqlite://data/s.db', /without \/\//],
    ['garbage', /invalid database setting "garbage": unknown kind/],
    ['postgres://u:pw@h:port/db', /invalid database setting "postgres:\/\/u:\*\*\*@h:port\/db": not a valid URL/],
    ['postgres://u@h/db?schema=a;drop', /schema "a;drop" must be a plain identifier/],
    ['postgres://u@h/db?schema=', /schema "" must be a plain identifier/],
  ])('refuses %j', (url, message) => {
    expect(() => parseDatabaseUrl(url, cwd)).toThrow(message)
  })

  it('describes a postgres target without its password', () => {
    const t = parseDatabaseUrl('postgresql://sluice:s3cr%40t@db.internal:6543/gateway')
    expect(t).toEqual({
      kind: 'postgres',
      connectionString: 'postgresql://sluice:s3cr%40t@db.internal:6543/gateway',
      schema: null,
      where: 'db.internal:6543/gateway as sluice',
      password: 's3cr@t',
    })
  })

  it('fills in the defaults pg will use when the URL leaves them out', () => {
    const t = parseDatabaseUrl('postgres://db.internal')
    expect(t.kind === 'postgres' && t.where).toBe('db.internal:5432/(default database) as (default user)')
  })

  it('turns ?schema= into a search_path startup option, keeping the user\'s own options', () => {
    const t = parseDatabaseUrl('postgres://u@h/db?schema=tenant_1&options=-c%20statement_timeout%3D5000&sslmode=disable')
    if (t.kind !== 'postgres') throw new Error('expected postgres')
    expect(t.schema).toBe('tenant_1')
    expect(t.where).toBe('h:5432/db as u (schema tenant_1)')
    const params = new URL(t.connectionString).searchParams
    expect(params.get('schema')).toBeNull()
    expect(params.get('options')).toBe('-c statement_timeout=5000 -c search_path=tenant_1')
    expect(params.get('sslmode')).toBe('disable')
  })

  it('refuses a password with an unencoded @, / or #, without quoting any of it', () => {
    for (const url of ['postgres://sluice:hunter2@ss-Pr0d/x@db.internal/sluice', 'postgres://app:12#34@h/db', 'postgres://app:pa/ss@h/db', 'postgres://a:b@c:d@h/db']) {
      let message = ''
      try {
        parseDatabaseUrl(url)
      } catch (err) {
        message = (err as Error).message
      }
      expect(message).toMatch(/percent-encode/)
      for (const piece of ['hunter2', 'ss-Pr0d', '12#34', 'pa/ss', 'b@c:d']) expect(message).not.toContain(piece)
    }
    expect(parseDatabaseUrl('postgres://app:p%40ss%2Fw%23rd@h/db').kind).toBe('postgres')
  })

  it('never puts a password in an error', () => {
    expect(() => parseDatabaseUrl('postgres://u:hunter2@h/db?schema=no-dashes')).toThrow(/postgres:\/\/u:\*\*\*@h\/db/)
    try {
      parseDatabaseUrl('postgres://u:hunter2@h/db?schema=no-dashes')
    } catch (err) {
      expect((err as Error).message).not.toContain('hunter2')
    }
  })
})

describe('redactUrl', () => {
  it.each([
    ['postgres://u:pw@h/db', 'postgres://u:***@h/db'],
    ['postgress://admin:hunter2@db.example/x', 'postgress://admin:***@db.example/x'],
    ['postgres://u:p@ss/w@rd@h:5432/db', 'postgres://u:***@h:5432/db'],
    ['postgres://u@h/db?password=pw&sslmode=require', 'postgres://u@h/db?password=***&sslmode=require'],
    ['postgres://u@h/db', 'postgres://u@h/db'],
    ['sqlite:./data/s.db', 'sqlite:./data/s.db'],
    ['garbage', 'garbage'],
  ])('%s → %s', (input, output) => {
    expect(redactUrl(input)).toBe(output)
  })
})

describe('scrub', () => {
  it('removes every occurrence of the secret', () => {
    expect(scrub('pw then pw', 'pw')).toBe('*** then ***')
    expect(scrub('nothing', null)).toBe('nothing')
    expect(scrub('nothing', '')).toBe('nothing')
  })
})
