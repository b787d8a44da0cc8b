import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ConfigError, loadKeysCommandConfig, parseConfigText, parseConfigValue, type ConfigIssue } from '../../../src/config/load.js'

const minimal = `providers:
  openai:
    type: openai
    keys:
      - id: k1
        key: sk-test-key
models:
  gpt-4o:
    targets:
      - provider: openai
`

/** Parses and returns the ConfigError's issues; fails the test if the text is valid. */
function issuesOf(text: string, env: Record<string, string> = {}): readonly ConfigIssue[] {
  try {
    parseConfigText(text, 'sluice.yaml', env)
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError)
    return (err as ConfigError).issues
  }
  throw new Error('expected a ConfigError')
}

function errorOf(text: string, env: Record<string, string> = {}): ConfigError {
  try {
    parseConfigText(text, 'sluice.yaml', env)
  } catch (err) {
    if (err instanceof ConfigError) return err
    throw err
  }
  throw new Error('expected a ConfigError')
}

/** The minimal config with a `server:` block holding `serverLines` (which starts on line 2). */
function withServer(serverLines: string): string {
  return `server:\n${serverLines}\n${minimal}`
}

function withTimeouts(timeoutLines: string): string {
  return `providers:
  openai:
    type: openai
    keys:
      - id: k1
        key: sk-test-key
    timeouts:
${timeoutLines}
`
}

describe('parseConfigText: defaults', () => {
  it('applies every default to a minimal config', () => {
    const cfg = parseConfigText(minimal, 'sluice.yaml', {})
    expect(cfg.server).toEqual({
      host: '127.0.0.1',
      port: 4000,
      metrics_port: null,
      body_limit: 10 * 1024 * 1024,
      drain_timeout: 30_000,
      keep_alive_timeout: 65_000,
      request_timeout: 60_000,
    })
    expect(cfg.log).toEqual({ level: 'info', access_log: true })
    expect(cfg.passthrough).toBeNull()
    const p = cfg.providers.openai
    expect(p).toBeDefined()
    expect(p?.timeouts).toEqual({ connect: 10_000, first_byte: 120_000, idle: 60_000, total: 600_000 })
    expect(p?.max_connections).toBe(256)
    expect(p?.headers).toEqual({})
    expect(p?.keys).toEqual([{ id: 'k1', key: 'sk-test-key', rpm: null, tpm: null, max_concurrent: null }])
    expect(p?.limit_scope).toBe('key')
    expect(cfg.queue).toEqual({
      max_size: 1000,
      per_consumer: 50,
      when_full: 'shed-lowest',
      max_wait: { urgent: 10_000, high: 30_000, normal: 60_000, low: 120_000 },
      keepalive: 0,
    })
    expect(cfg.pacing).toEqual({ output_reserve: 1024 })
    expect(cfg.database).toBe('sqlite:./data/sluice.db')
    expect(cfg.admin).toEqual({ keys: [], read_only_keys: [], session_ttl: 43_200_000 })
    expect(cfg.auth).toBeNull()
    expect(cfg.tiers).toEqual({})
    expect(cfg.usage).toEqual({ retention: 90 * 86_400_000, buffer: 10_000 })
    expect(cfg.cors).toEqual({ origins: [], credentials: false, max_age: 600_000 })
    expect(cfg.models['gpt-4o']).toEqual({ targets: [{ provider: 'openai', weight: 1 }], owned_by: 'sluice', strategy: 'p2c', fallbacks: [], aliases: [], split: null, ab_test: null })
    expect(p?.health_check).toBeNull()
    expect(p?.stream_usage).toBe(true)
    expect(p?.failover).toEqual({ enabled: false, failure_threshold: 5, success_threshold: 2, failure_rate: 0.3, min_requests: 20, window: 5_000, max_ejection_percent: 50, open_for: 30_000, max_open_for: 300_000 })
    expect(cfg.retries).toEqual({ max: 2, budget: 0.2, min_budget: 3, panic_mode: false })
  })

  it('failover needs a health check, and routes name what exists', () => {
    const provider = (extra: string) => `providers:\n  p:\n    type: openai\n    keys: [{ id: k, key: sk-1 }]\n${extra}`
    expect(() => parseConfigText(provider('    failover: { enabled: true }\n'), 'sluice.yaml', {})).toThrow(/providers\.p\.failover\.enabled: failover needs health_check\.model/)
    expect(() => parseConfigText(provider('    health_check: { interval: 10s }\n'), 'sluice.yaml', {})).toThrow(/health_check: a health check needs model/)
    expect(parseConfigText(provider('    failover: { enabled: true }\n    health_check: { model: tiny }\n'), 'sluice.yaml', {}).providers.p?.health_check).toEqual({ model: 'tiny', interval: 30_000, timeout: 10_000 })
    const models = (text: string) => provider('') + 'models:\n' + text
    expect(() => parseConfigText(models('  a: { targets: [{ provider: p }], fallbacks: [b] }\n'), 'sluice.yaml', {})).toThrow(/models\.a\.fallbacks\[0\]: unknown model "b"/)
    expect(() => parseConfigText(models('  a: { targets: [{ provider: p }], fallbacks: [a] }\n'), 'sluice.yaml', {})).toThrow(/cannot fall back to itself/)
    expect(() => parseConfigText(models('  a: { targets: [{ provider: p }], split: { x: 1 } }\n'), 'sluice.yaml', {})).toThrow(/models\.a\.targets\[0\]\.group/)
    expect(() => parseConfigText(models('  a: { targets: [{ provider: p }], ab_test: {} }\n'), 'sluice.yaml', {})).toThrow(/an A\/B test needs `split`/)
    expect(() => parseConfigText(models('  a: { targets: [{ provider: p }], aliases: [b] }\n  b: { targets: [{ provider: p }] }\n'), 'sluice.yaml', {})).toThrow(/"b" already names another model/)
    expect(() => parseConfigText(models('  a: { targets: [{ provider: p }], strategy: fastest }\n'), 'sluice.yaml', {})).toThrow(/strategy/)
  })

  it('refuses a database URL sluice cannot open, and admin keys shorter than 16 characters', () => {
    const base = 'providers: {}\n'
    expect(() => parseConfigText(base + 'database: mysql://x\n', 'sluice.yaml', {})).toThrow(/database/)
    expect(() => parseConfigText(base + 'database: "sqlite://data/x.db"\n', 'sluice.yaml', {})).toThrow(/database/)
    expect(() => parseConfigText(base + 'admin: { keys: [short] }\n', 'sluice.yaml', {})).toThrow(/admin\.keys\[0\]: an admin key needs at least 16 characters/)
    expect(parseConfigText(base + 'database: postgres://sluice@db:5432/sluice\n', 'sluice.yaml', {}).database).toBe('postgres://sluice@db:5432/sluice')
  })

  it('max_concurrent is a whole number from 1, or null for a learned limit', () => {
    const withLimit = (v: string) => `providers:\n  p:\n    type: openai\n    keys: [{ id: k, key: sk-1, max_concurrent: ${v} }]\n`
    expect(parseConfigText(withLimit('4'), 'sluice.yaml', {}).providers.p?.keys[0]?.max_concurrent).toBe(4)
    expect(parseConfigText(withLimit('null'), 'sluice.yaml', {}).providers.p?.keys[0]?.max_concurrent).toBeNull()
    expect(() => parseConfigText(withLimit('0'), 'sluice.yaml', {})).toThrow(/max_concurrent/)
    expect(() => parseConfigText(withLimit('2.5'), 'sluice.yaml', {})).toThrow(/max_concurrent/)
  })

  it('models default to none', () => {
    const cfg = parseConfigText('providers: {}\n', 'sluice.yaml', {})
    expect(cfg.models).toEqual({})
  })
})

describe('parseConfigText: durations and sizes', () => {
  const durationCases: { value: string; ms: number }[] = [
    { value: '500ms', ms: 500 },
    { value: '2m', ms: 120_000 },
    { value: '30s', ms: 30_000 },
    { value: '1h', ms: 3_600_000 },
    { value: '1.5s', ms: 1500 },
    { value: '1500', ms: 1500 }, // a YAML number is milliseconds
    { value: '0', ms: 0 },
    { value: '7d', ms: 604_800_000 },
  ]
  for (const c of durationCases) {
    it(`first_byte: ${c.value} → ${c.ms} ms`, () => {
      const cfg = parseConfigText(withTimeouts(`      first_byte: ${c.value}`), 'sluice.yaml', {})
      expect(cfg.providers.openai?.timeouts.first_byte).toBe(c.ms)
    })
  }

  it('server.drain_timeout accepts a duration string', () => {
    expect(parseConfigText(withServer('  drain_timeout: 2m'), 'sluice.yaml', {}).server.drain_timeout).toBe(120_000)
  })

  const sizeCases: { value: string; bytes: number }[] = [
    { value: '512kb', bytes: 512 * 1024 },
    { value: '10mb', bytes: 10 * 1024 * 1024 },
    { value: '1gb', bytes: 1024 ** 3 },
    { value: '2048', bytes: 2048 },
    { value: '"100b"', bytes: 100 },
  ]
  for (const c of sizeCases) {
    it(`body_limit: ${c.value} → ${c.bytes} bytes`, () => {
      expect(parseConfigText(withServer(`  body_limit: ${c.value}`), 'sluice.yaml', {}).server.body_limit).toBe(c.bytes)
    })
  }

  const refused: { line: string; path: string }[] = [
    { line: '  body_limit: 10 parsecs', path: 'server.body_limit' },
    { line: '  body_limit: -1', path: 'server.body_limit' },
    { line: '  drain_timeout: soon', path: 'server.drain_timeout' },
    { line: '  drain_timeout: -5s', path: 'server.drain_timeout' },
    { line: '  port: 70000', path: 'server.port' },
    { line: '  port: http', path: 'server.port' },
  ]
  for (const c of refused) {
    it(`refuses ${c.line.trim()}`, () => {
      const issues = issuesOf(withServer(c.line))
      expect(issues.map((i) => i.path)).toContain(c.path)
      expect(issues.find((i) => i.path === c.path)?.line).toBe(2)
    })
  }
})

describe('parseConfigText: ${VAR} interpolation', () => {
  const keyed = (value: string) => minimal.replace('key: sk-test-key', `key: ${value}`)

  it('replaces ${VAR} from the env object passed in', () => {
    const cfg = parseConfigText(keyed('${OPENAI_KEY}'), 'sluice.yaml', { OPENAI_KEY: 'sk-from-env' })
    expect(cfg.providers.openai?.keys[0]?.key).toBe('sk-from-env')
  })

  it('interpolates inside a longer string', () => {
    const cfg = parseConfigText(keyed('pre-${A}-${B}-post'), 'sluice.yaml', { A: 'x', B: 'y' })
    expect(cfg.providers.openai?.keys[0]?.key).toBe('pre-x-y-post')
  })

  const fallbackCases: { env: Record<string, string>; expected: string }[] = [
    { env: {}, expected: 'fallback-key' },
    { env: { OPENAI_KEY: '' }, expected: 'fallback-key' }, // empty counts as unset
    { env: { OPENAI_KEY: 'sk-set' }, expected: 'sk-set' },
  ]
  for (const c of fallbackCases) {
    it(`\${VAR:-default} with env ${JSON.stringify(c.env)} → ${c.expected}`, () => {
      const cfg = parseConfigText(keyed('${OPENAI_KEY:-fallback-key}'), 'sluice.yaml', c.env)
      expect(cfg.providers.openai?.keys[0]?.key).toBe(c.expected)
    })
  }

  it('does not read process.env when an env object is given', () => {
    const name = 'SLUICE_TEST_ONLY_IN_PROCESS_ENV'
    process.env[name] = 'from-process'
    try {
      const err = errorOf(keyed(`\${${name}}`))
      expect(err.issues[0]?.message).toContain(name)
    } finally {
      delete process.env[name]
    }
  })

  it('a missing variable is an error naming the variable and its line', () => {
    const err = errorOf(keyed('${OPENAI_KEY}'))
    expect(err.issues).toHaveLength(1)
    expect(err.issues[0]?.message).toBe('environment variable OPENAI_KEY is not set')
    expect(err.issues[0]?.line).toBe(6)
    expect(err.message).toContain('sluice.yaml:6')
    expect(err.message).toContain('OPENAI_KEY')
  })

  it('a missing variable inside a list is reported with its index in the path', () => {
    const err = errorOf(keyed('${OPENAI_KEY}'))
    expect(err.issues[0]?.path).toBe('providers.openai.keys[0].key')
  })

  it('reports every missing variable', () => {
    const text = minimal.replace('key: sk-test-key', 'key: ${K1}') + 'server:\n  host: ${HOST}\n'
    const issues = issuesOf(text)
    expect(issues.map((i) => i.message).sort()).toEqual(['environment variable HOST is not set', 'environment variable K1 is not set'])
    expect(issues.find((i) => i.message.includes('HOST'))?.path).toBe('server.host')
    expect(issues.find((i) => i.message.includes('HOST'))?.line).toBe(12)
  })

  it('a value holding YAML syntax stays a plain string', () => {
    for (const value of ['a:[b', '{x:1}', '-item', '"quoted', '&anchor*ref', '#not-a-comment']) {
      const cfg = parseConfigText(keyed('${OPENAI_KEY}'), 'sluice.yaml', { OPENAI_KEY: value })
      expect(cfg.providers.openai?.keys[0]?.key).toBe(value)
    }
  })

  it('a value holding ${OTHER} is not expanded again', () => {
    const cfg = parseConfigText(keyed('${OPENAI_KEY}'), 'sluice.yaml', { OPENAI_KEY: '${SECRET}', SECRET: 'leak' })
    expect(cfg.providers.openai?.keys[0]?.key).toBe('${SECRET}')
  })

  it('interpolated strings still go through the schema (port, duration)', () => {
    const cfg = parseConfigText(withServer('  port: ${PORT}\n  drain_timeout: ${DRAIN}'), 'sluice.yaml', { PORT: '8080', DRAIN: '2m' })
    expect(cfg.server.port).toBe(8080)
    expect(cfg.server.drain_timeout).toBe(120_000)
  })

  it('an empty fallback leaves an empty key, which the schema refuses', () => {
    const issues = issuesOf(keyed('${OPENAI_KEY:-}'))
    expect(issues.map((i) => i.path)).toEqual(['providers.openai.keys[0].key'])
    expect(issues[0]?.line).toBe(6)
  })
})

describe('parseConfigText: schema errors carry path and line', () => {
  it('an unknown provider in a target', () => {
    const text = minimal.replace('- provider: openai', '- provider: nope')
    const err = errorOf(text)
    expect(err.issues).toEqual([{ path: 'models.gpt-4o.targets[0].provider', line: 10, message: 'unknown provider "nope"' }])
    expect(err.message).toContain('sluice.yaml:10 models.gpt-4o.targets[0].provider: unknown provider "nope"')
  })

  it('an unknown provider in the second target of model x', () => {
    const text = `${minimal}  x:
    targets:
      - provider: openai
      - provider: missing
        model: m
`
    expect(issuesOf(text)).toEqual([{ path: 'models.x.targets[1].provider', line: 14, message: 'unknown provider "missing"' }])
  })

  it('an unknown passthrough provider', () => {
    expect(issuesOf(`${minimal}passthrough:\n  provider: ghost\n`)).toEqual([{ path: 'passthrough.provider', line: 12, message: 'unknown provider "ghost"' }])
  })

  const unknownFields: { text: string; path: string; field: string }[] = [
    { text: `${minimal}foo: 1\n`, path: '', field: 'foo' },
    { text: withServer('  prot: 4000'), path: 'server', field: 'prot' },
    { text: minimal.replace('    type: openai', '    type: openai\n    base: http://x'), path: 'providers.openai', field: 'base' },
    { text: minimal.replace('        key: sk-test-key', '        key: sk-test-key\n        secret: x'), path: 'providers.openai.keys[0]', field: 'secret' },
    { text: minimal.replace('      - provider: openai', '      - provider: openai\n        wieght: 2'), path: 'models.gpt-4o.targets[0]', field: 'wieght' },
  ]
  for (const c of unknownFields) {
    it(`rejects unknown field "${c.field}" under ${c.path || 'the root'}`, () => {
      const issues = issuesOf(c.text)
      expect(issues).toHaveLength(1)
      expect(issues[0]?.path).toBe(c.path)
      expect(issues[0]?.message).toBe(`unknown field "${c.field}"`)
      expect(issues[0]?.line).not.toBeNull()
    })
  }

  it('azure without base_url', () => {
    const text = `providers:
  az:
    type: azure
    keys:
      - id: k1
        key: abc
`
    const issues = issuesOf(text)
    expect(issues).toHaveLength(1)
    expect(issues[0]?.path).toBe('providers.az.base_url')
    expect(issues[0]?.message).toContain('base_url')
    expect(issues[0]?.line).toBe(3) // the provider's block, since base_url is absent
  })

  it('azure with base_url is accepted', () => {
    const text = `providers:
  az:
    type: azure
    base_url: https://res.openai.azure.com
    keys:
      - id: k1
        key: abc
`
    expect(parseConfigText(text, 'sluice.yaml', {}).providers.az?.base_url).toBe('https://res.openai.azure.com')
  })

  it('duplicate key ids', () => {
    const text = minimal.replace('        key: sk-test-key', '        key: sk-test-key\n      - id: k2\n        key: b\n      - id: k1\n        key: c')
    expect(issuesOf(text)).toEqual([{ path: 'providers.openai.keys[2].id', line: 9, message: 'duplicate key id "k1"' }])
  })

  const shapeErrors: { name: string; text: string; path: string }[] = [
    { name: 'unknown provider type', text: minimal.replace('type: openai', 'type: cohere'), path: 'providers.openai.type' },
    { name: 'non-http base_url', text: minimal.replace('    type: openai', '    type: openai\n    base_url: ftp://x/v1'), path: 'providers.openai.base_url' },
    { name: 'no keys', text: 'providers:\n  p:\n    type: openai\n    keys: []\n', path: 'providers.p.keys' },
    { name: 'bad key id', text: minimal.replace('id: k1', 'id: "bad id!"'), path: 'providers.openai.keys[0].id' },
    { name: 'model without targets', text: `${minimal}  y:\n    targets: []\n`, path: 'models.y.targets' },
    { name: 'bad log level', text: `${minimal}log:\n  level: loud\n`, path: 'log.level' },
    { name: 'providers missing', text: 'server:\n  port: 1\n', path: 'providers' },
  ]
  for (const c of shapeErrors) {
    it(`refuses ${c.name} at ${c.path}`, () => {
      expect(issuesOf(c.text).map((i) => i.path)).toContain(c.path)
    })
  }

  it('an empty document is refused for lacking providers', () => {
    expect(issuesOf('')).toEqual([expect.objectContaining({ path: 'providers' })])
  })
})

describe('parseConfigText: YAML errors', () => {
  const cases: { name: string; text: string; line: number }[] = [
    { name: 'unclosed flow sequence', text: 'server:\n  port: [4000\nproviders: {}\n', line: 3 },
    { name: 'duplicate mapping key', text: 'providers: {}\nproviders: {}\n', line: 2 },
    { name: 'bad indentation', text: 'providers:\n  p:\n    type: openai\n   keys: []\n', line: 4 },
  ]
  for (const c of cases) {
    it(`${c.name} gives a line`, () => {
      const err = errorOf(c.text)
      expect(err.issues.length).toBeGreaterThan(0)
      expect(err.issues[0]?.line).toBe(c.line)
      expect(err.message).toContain(`sluice.yaml:${c.line}`)
    })
  }

  it('the error names the file it was given', () => {
    try {
      parseConfigText('a: [', '/etc/sluice/prod.yaml', {})
      expect.unreachable()
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError)
      expect((err as ConfigError).file).toBe('/etc/sluice/prod.yaml')
      expect((err as ConfigError).message.startsWith('/etc/sluice/prod.yaml: invalid configuration')).toBe(true)
      expect((err as ConfigError).name).toBe('ConfigError')
    }
  })
})

describe('parseConfigText: upstream headers and keys are checked before any request', () => {
  const withHeaders = (headers: string) => minimal.replace('    type: openai\n', `    type: openai\n    headers: ${headers}\n`)
  const cases = [
    { name: 'a header name with a space', headers: '{ "bad name": x }', path: 'providers.openai.headers.bad name' },
    { name: 'a header that sluice sets itself', headers: '{ Authorization: "Bearer x" }', path: 'providers.openai.headers.Authorization' },
    { name: 'a hop-by-hop header', headers: '{ transfer-encoding: chunked }', path: 'providers.openai.headers.transfer-encoding' },
    { name: 'a value with a line break', headers: '{ X-Org: "a\\nb" }', path: 'providers.openai.headers.X-Org' },
  ]
  for (const c of cases) {
    it(`refuses ${c.name}`, () => {
      expect(issuesOf(withHeaders(c.headers)).map((i) => i.path)).toContain(c.path)
    })
  }

  it('accepts ordinary extra headers', () => {
    expect(parseConfigText(withHeaders('{ OpenAI-Organization: org-1 }')).providers.openai?.headers).toEqual({ 'OpenAI-Organization': 'org-1' })
  })

  it('trims a key read from the environment with a trailing newline', () => {
    const text = minimal.replace('key: sk-test-key', 'key: "${KEY}"')
    expect(parseConfigText(text, 'sluice.yaml', { KEY: 'sk-from-file\n' }).providers.openai?.keys[0]?.key).toBe('sk-from-file')
  })

  it('refuses a key with whitespace inside', () => {
    expect(issuesOf(minimal.replace('key: sk-test-key', 'key: "sk-a b"')).map((i) => i.path)).toContain('providers.openai.keys[0].key')
  })
})

describe('parseConfigText: values undici would refuse at dispatch are refused at load', () => {
  const withHeaders = (headers: string) => minimal.replace('    type: openai\n', `    type: openai\n    headers: ${headers}\n`)
  it('refuses a key holding a character pasted from a web page', () => {
    expect(issuesOf(minimal.replace('key: sk-test-key', 'key: "sk-abc\u2026def"')).map((i) => i.path)).toContain('providers.openai.keys[0].key')
  })
  for (const value of ['"a\\x01b"', '"app 🚀"']) {
    it(`refuses the header value ${value}`, () => {
      expect(issuesOf(withHeaders(`{ X-Title: ${value} }`)).map((i) => i.path)).toContain('providers.openai.headers.X-Title')
    })
  }
  for (const name of ['Content-Type', 'User-Agent', 'anthropic-version', 'X-Request-Id']) {
    it(`refuses ${name}, which sluice sets itself`, () => {
      expect(issuesOf(withHeaders(`{ ${name}: x }`)).map((i) => i.path)).toContain(`providers.openai.headers.${name}`)
    })
  }
})

describe('parseConfigText: every problem in one run, in plain words', () => {
  it('reports an unknown provider together with field errors, not only once they are fixed', () => {
    const text = `providers:
  openai:
    type: openai
    keys:
      - id: k1
        key: sk-test-key
    max_connections: many
models:
  a:
    targets: [{ provider: opneai }]
    fallbacks: [nowhere]
passthrough: { provider: ghost }
`
    expect(issuesOf(text)).toEqual([
      { path: 'providers.openai.max_connections', line: 7, message: 'must be a number (got "many")' },
      { path: 'models.a.targets[0].provider', line: 10, message: 'unknown provider "opneai"' },
      { path: 'models.a.fallbacks[0]', line: 11, message: 'unknown model "nowhere" (fallbacks name models, aliases or names a wildcard model matches)' },
      { path: 'passthrough.provider', line: 12, message: 'unknown provider "ghost"' },
    ])
  })

  it('reports unset variables together with the rest, and an unset key only once', () => {
    const text = minimal.replace('key: sk-test-key', 'key: ${OPENAI_KEY}').replace('- provider: openai', '- provider: nope') + 'queue: { max_size: 0 }\n'
    expect(issuesOf(text)).toEqual([
      { path: 'providers.openai.keys[0].key', line: 6, message: 'environment variable OPENAI_KEY is not set' },
      { path: 'models.gpt-4o.targets[0].provider', line: 10, message: 'unknown provider "nope"' },
      { path: 'queue.max_size', line: 11, message: 'must be greater than 0 (got 0)' },
    ])
  })

  it('a missing key reads as clearly as an empty one', () => {
    const missing = issuesOf(minimal.replace('        key: sk-test-key\n', ''))
    const empty = issuesOf(minimal.replace('key: sk-test-key', 'key: ""'))
    expect(missing).toEqual([{ path: 'providers.openai.keys[0].key', line: 5, message: 'the key is missing (add key: "${ENV_VAR}" holding the upstream credential)' }])
    expect(empty).toEqual([{ path: 'providers.openai.keys[0].key', line: 6, message: 'the key is empty (is its ${VAR} set?)' }])
  })

  const plain: { name: string; text: string; path: string; message: string }[] = [
    { name: 'a missing field', text: minimal.replace('    type: openai\n', ''), path: 'providers.openai.type', message: 'required field "type" is missing' },
    { name: 'a missing target list', text: minimal.replace('    targets:\n      - provider: openai\n', '    owned_by: me\n'), path: 'models.gpt-4o.targets', message: 'required field "targets" is missing' },
    { name: 'a value outside its choices', text: minimal.replace('type: openai', 'type: openia'), path: 'providers.openai.type', message: 'must be one of openai, azure, anthropic (got "openia")' },
    { name: 'a fraction where a whole number goes', text: `${minimal}queue: { max_size: 2.5 }\n`, path: 'queue.max_size', message: 'must be a whole number (got 2.5)' },
    { name: 'a port out of range', text: withServer('  port: 70000'), path: 'server.port', message: 'must be at most 65535 (got 70000)' },
    { name: 'a list where a map goes', text: `${minimal}retries: [1]\n`, path: 'retries', message: 'must be a map (got a list)' },
  ]
  for (const c of plain) {
    it(`${c.name}: ${c.message}`, () => {
      expect(issuesOf(c.text)).toEqual([expect.objectContaining({ path: c.path, message: c.message })])
    })
  }

  it('a config given as a value (the demo) is checked the same way, references included', () => {
    expect(() => parseConfigValue({ providers: { p: { type: 'openai' } }, models: { m: { targets: [{ provider: 'q' }] } } }, 'demo')).toThrow(
      'demo: invalid configuration\n  demo providers.p.keys: required field "keys" is missing\n  demo models.m.targets[0].provider: unknown provider "q"',
    )
  })
})

describe('loadKeysCommandConfig: what sluice keys reads', () => {
  const file = (text: string): string => {
    const path = join(mkdtempSync(join(tmpdir(), 'sluice-keys-config-')), 'sluice.yaml')
    writeFileSync(path, text)
    return path
  }

  it('reads database and tiers and nothing else: provider secrets may be unset and other sections wrong', () => {
    const path = file(`providers:
  openai: { type: openai, keys: [{ id: k, key: "\${OPENAI_API_KEY}" }] }
models:
  m: { targets: [{ provider: ghost }] }
server: { port: http }
database: "\${DB_URL}"
tiers:
  basic: { rpm: 60 }
`)
    const cfg = loadKeysCommandConfig(path, { DB_URL: 'sqlite::memory:' })
    expect(cfg.database).toBe('sqlite::memory:')
    expect(Object.keys(cfg.tiers)).toEqual(['basic'])
    expect(cfg.tiers.basic?.rpm).toBe(60)
  })

  it('still reports the problems of those two sections, with their lines', () => {
    const path = file('providers: {}\ndatabase: "${DB_URL}"\ntiers:\n  basic: { rpm: 0 }\n')
    try {
      loadKeysCommandConfig(path, {})
      expect.unreachable()
    } catch (err) {
      expect((err as ConfigError).issues).toEqual([
        { path: 'database', line: 2, message: 'environment variable DB_URL is not set' },
        { path: 'tiers.basic.rpm', line: 4, message: 'must be greater than 0 (got 0)' },
      ])
    }
  })
})
