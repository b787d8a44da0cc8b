import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ConfigError, parseConfigValue } from '../../../src/config/load.js'
import { referenceIssues } from '../../../src/config/references.js'

// The cross-field rules also run on configs that failed the schema, so they must take any
// shape of input: the schema reports what is malformed, these rules only what they can check.

const sections = fc.record(
  {
    providers: fc.oneof(fc.anything(), fc.dictionary(fc.constantFrom('p', 'q', 'azure'), fc.record({ type: fc.oneof(fc.constant('azure'), fc.anything()), keys: fc.anything(), health_check: fc.anything(), failover: fc.anything(), base_url: fc.anything() }, { requiredKeys: [] }))),
    models: fc.oneof(fc.anything(), fc.dictionary(fc.constantFrom('m', 'n', 'l-*'), fc.record({ targets: fc.anything(), aliases: fc.anything(), fallbacks: fc.anything(), split: fc.anything(), ab_test: fc.anything() }, { requiredKeys: [] }))),
    passthrough: fc.anything(),
    cors: fc.anything(),
    admin: fc.anything(),
  },
  { requiredKeys: [] },
)

describe('referenceIssues on raw input', () => {
  it('never throws, whatever the shape', () => {
    fc.assert(fc.property(fc.oneof(fc.anything(), sections), (raw) => void referenceIssues(raw)), { numRuns: 500 })
  })

  it('a whole config either loads or fails as a ConfigError, never with a TypeError', () => {
    fc.assert(
      fc.property(sections, (raw) => {
        try {
          parseConfigValue(raw, 'fuzz')
        } catch (err) {
          expect(err).toBeInstanceOf(ConfigError)
        }
      }),
      { numRuns: 300 },
    )
  })

  it('checks what it can read, skips what it cannot, and reports each problem at its index', () => {
    const raw = {
      providers: { p: { type: 'openai', keys: 'not a list' }, az: { type: 'azure', keys: ['junk', { id: 'a' }, { id: 'a' }] } },
      models: { m: { targets: [{ provider: 'ghost' }, 'junk', { provider: 7 }, { provider: 'toString' }], fallbacks: [3, 'nowhere'] } },
      passthrough: { provider: 'p' },
    }
    expect(referenceIssues(raw)).toEqual([
      { path: ['providers', 'az', 'base_url'], message: 'azure providers need base_url (https://NAME.openai.azure.com)' },
      { path: ['providers', 'az', 'keys', 2, 'id'], message: 'duplicate key id "a"' },
      { path: ['models', 'm', 'targets', 0, 'provider'], message: 'unknown provider "ghost"' },
      { path: ['models', 'm', 'targets', 3, 'provider'], message: 'unknown provider "toString"' },
      { path: ['models', 'm', 'fallbacks', 1], message: 'unknown model "nowhere" (fallbacks name models, aliases or names a wildcard model matches)' },
    ])
    // With `providers` itself malformed, no target can be judged unknown.
    expect(referenceIssues({ providers: 'oops', models: { m: { targets: [{ provider: 'p' }] } }, passthrough: { provider: 'p' } })).toEqual([])
  })
})
