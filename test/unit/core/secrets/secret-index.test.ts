import { describe, expect, it } from 'vitest'
import { SecretIndex } from '../../../../src/core/secrets/secret-index.js'

const key = 'sk-canary-0123456789abcdef0123456789abcdef'
const index = new SecretIndex([key, 'none'])

describe('SecretIndex', () => {
  const cases = [
    { name: 'the whole key', text: `bad key ${key}!`, redacted: 'bad key [redacted]!' },
    { name: 'the key twice', text: `${key}/${key}`, redacted: '[redacted]/[redacted]' },
    { name: 'an 8-character piece', text: `key starts ${key.slice(10, 18)} ok`, redacted: 'key starts [redacted] ok' },
    { name: 'a 20-character piece', text: `x${key.slice(5, 25)}y`, redacted: 'x[redacted]y' },
    { name: 'a 7-character piece (below the window)', text: `x${key.slice(3, 10)}y`, redacted: `x${key.slice(3, 10)}y` },
    { name: 'a placeholder shorter than a window', text: 'none of these', redacted: 'none of these' },
    { name: 'nothing', text: '', redacted: '' },
  ]
  for (const c of cases) {
    it(`redacts ${c.name}`, () => {
      expect(index.redact(c.text)).toBe(c.redacted)
      expect(index.holds(c.text)).toBe(c.redacted !== c.text)
    })
  }

  it('ignores well-known placeholder values, which guard nothing', () => {
    const local = new SecretIndex(['sk-no-key-required', 'token-abc123'])
    expect(local.size).toBe(0)
    expect(local.redact('max_tokens is required')).toBe('max_tokens is required')
  })

  it('indexes nothing for an empty list', () => {
    expect(new SecretIndex([]).holds(key)).toBe(false)
    expect(new SecretIndex([]).size).toBe(0)
  })
})
