import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import {
  generateVirtualKey,
  hashVirtualKey,
  isVirtualKeyHash,
  looksLikeVirtualKey,
  sameHash,
  virtualKeyLength,
  virtualKeyPrefixLength,
} from '../../../../src/core/virtual-keys/index.js'

describe('generateVirtualKey', () => {
  it('is sk-sluice- and 43 base64url characters of 32 random bytes', () => {
    const k = generateVirtualKey()
    expect(k.secret).toMatch(/^sk-sluice-[A-Za-z0-9_-]{43}$/)
    expect(k.secret).toHaveLength(53)
    expect(virtualKeyLength).toBe(53)
    expect(Buffer.from(k.secret.slice('sk-sluice-'.length), 'base64url')).toHaveLength(32)
  })

  it('shows a 14-character prefix and stores the SHA-256 of the secret', () => {
    const k = generateVirtualKey()
    expect(virtualKeyPrefixLength).toBe(14)
    expect(k.prefix).toBe(k.secret.slice(0, 14))
    expect(k.hash).toBe(createHash('sha256').update(k.secret).digest('hex'))
    expect(k.hash).not.toContain(k.secret.slice(10))
  })

  it('takes its bytes from the random source', () => {
    const k = generateVirtualKey((n) => new Uint8Array(n).fill(0xff))
    expect(k.secret).toBe('sk-sluice-' + '_'.repeat(42) + '8')
    expect(k.prefix).toBe('sk-sluice-____')
  })

  it('never repeats', () => {
    const secrets = new Set(Array.from({ length: 1_000 }, () => generateVirtualKey().secret))
    expect(secrets.size).toBe(1_000)
  })
})

describe('hashVirtualKey', () => {
  it('is lowercase hex SHA-256', () => {
    expect(hashVirtualKey('sk-sluice-abc')).toBe(createHash('sha256').update('sk-sluice-abc').digest('hex'))
    expect(isVirtualKeyHash(hashVirtualKey('x'))).toBe(true)
  })
})

describe('looksLikeVirtualKey', () => {
  const good = generateVirtualKey().secret
  it.each([
    ['a generated key', good, true],
    ['a key one character short', good.slice(0, -1), false],
    ['a key one character long', good + 'A', false],
    ['another scheme', 'sk-proj-' + good.slice(8), false],
    ['a character outside base64url', good.slice(0, -1) + '+', false],
    ['padding', good.slice(0, -1) + '=', false],
    ['the empty string', '', false],
    ['a huge header', 'sk-sluice-' + 'A'.repeat(1_000_000), false],
    ['a non-string', 42, false],
    ['surrounding space', ` ${good}`, false],
  ])('%s → %s', (_name, candidate, expected) => {
    expect(looksLikeVirtualKey(candidate)).toBe(expected)
  })
})

describe('isVirtualKeyHash', () => {
  it.each([
    ['a hash', hashVirtualKey('k'), true],
    ['uppercase hex', hashVirtualKey('k').toUpperCase(), false],
    ['a secret', generateVirtualKey().secret, false],
    ['too short', 'ab', false],
  ])('%s → %s', (_name, candidate, expected) => {
    expect(isVirtualKeyHash(candidate)).toBe(expected)
  })
})

describe('sameHash', () => {
  const h = hashVirtualKey('a')
  it.each([
    ['equal hashes', h, h, true],
    ['one character different', h, h.slice(0, -1) + (h.endsWith('0') ? '1' : '0'), false],
    ['different lengths', h, h.slice(1), false],
    ['equal string length, different byte length', 'aé', 'ab', false],
    ['two empty strings', '', '', true],
  ])('%s → %s', (_name, a, b, expected) => {
    expect(sameHash(a, b)).toBe(expected)
  })

  it('does not throw when the byte lengths differ but the string lengths match', () => {
    expect(() => sameHash('é', 'e')).not.toThrow()
    expect(sameHash('é', 'e')).toBe(false)
  })
})
