import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  generateVirtualKey,
  hashVirtualKey,
  isVirtualKeyHash,
  looksLikeVirtualKey,
  sameHash,
  virtualKeyLength,
  virtualKeyPrefixLength,
  virtualKeyScheme,
} from '../../../src/core/virtual-keys/index.js'

// What the consumers service relies on from virtual keys, beyond test/unit/core/virtual-keys:
// fixed vectors, properties over many keys, and the shape check's edges.

const base64url = /^[A-Za-z0-9_-]+$/

describe('virtual key format', () => {
  it('is sk-sluice- and 43 base64url characters; the prefix is the scheme and 4 more', () => {
    expect(virtualKeyScheme).toBe('sk-sluice-')
    expect(virtualKeyLength).toBe(10 + 43)
    expect(virtualKeyPrefixLength).toBe(10 + 4)
    // The prefix fits the store's 16-character limit on prefixes.
    expect(virtualKeyPrefixLength).toBeLessThanOrEqual(16)
  })

  it('encodes the random bytes as base64url without padding', () => {
    const bytes = Uint8Array.from({ length: 32 }, (_, i) => i * 8)
    const k = generateVirtualKey((n) => {
      expect(n).toBe(32)
      return bytes
    })
    expect(k.secret).toBe(`sk-sluice-${Buffer.from(bytes).toString('base64url')}`)
    expect(k.secret).not.toContain('=')
    expect(k.prefix).toBe(k.secret.slice(0, 14))
  })

  it('holds for any 32 random bytes: shape, prefix, hash, and the shape check accepts it', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (bytes) => {
        const k = generateVirtualKey(() => bytes)
        expect(k.secret).toHaveLength(53)
        expect(k.secret.startsWith('sk-sluice-')).toBe(true)
        expect(k.secret.slice(10)).toMatch(base64url)
        expect(Buffer.from(k.secret.slice(10), 'base64url')).toEqual(Buffer.from(bytes))
        expect(k.prefix).toBe(k.secret.slice(0, virtualKeyPrefixLength))
        expect(k.hash).toBe(hashVirtualKey(k.secret))
        expect(isVirtualKeyHash(k.hash)).toBe(true)
        expect(looksLikeVirtualKey(k.secret)).toBe(true)
      }),
      { numRuns: 300 },
    )
  })
})

describe('hashVirtualKey', () => {
  it('is SHA-256 as lowercase hex (FIPS 180-2 vectors)', () => {
    expect(hashVirtualKey('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')
    expect(hashVirtualKey('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
  })

  it('hashes the UTF-8 bytes', () => {
    expect(hashVirtualKey('é')).not.toBe(hashVirtualKey('e'))
    expect(hashVirtualKey('\u00e9')).not.toBe(hashVirtualKey('e\u0301'))
  })

  it('differs for keys one character apart', () => {
    const k = generateVirtualKey().secret
    const other = k.slice(0, -1) + (k.endsWith('A') ? 'B' : 'A')
    expect(hashVirtualKey(k)).not.toBe(hashVirtualKey(other))
  })
})

describe('looksLikeVirtualKey', () => {
  const good = generateVirtualKey().secret

  it('refuses every length but 53', () => {
    for (let n = 0; n <= 120; n++) {
      const candidate = (good + 'A'.repeat(120)).slice(0, n)
      expect(looksLikeVirtualKey(candidate), `length ${n}`).toBe(n === 53)
    }
  })

  it('refuses a character outside base64url at any position of the secret part', () => {
    for (const bad of ['+', '/', '=', ' ', '.', '~', '\u0000', '\n', 'é', '\u{1F680}'.slice(0, 1)]) {
      for (let i = 10; i < 53; i++) {
        const candidate = good.slice(0, i) + bad + good.slice(i + 1)
        expect(candidate).toHaveLength(53)
        expect(looksLikeVirtualKey(candidate), `${JSON.stringify(bad)} at ${i}`).toBe(false)
      }
    }
  })

  it('refuses the wrong scheme, case included', () => {
    expect(looksLikeVirtualKey('SK-SLUICE-' + good.slice(10))).toBe(false)
    expect(looksLikeVirtualKey('sk_sluice_' + good.slice(10))).toBe(false)
    expect(looksLikeVirtualKey('sk-proj-xx' + good.slice(10))).toBe(false)
    expect(looksLikeVirtualKey(`Bearer ${good}`.slice(0, 53))).toBe(false)
  })

  it('refuses 8 KB strings quickly, well-formed start or not', () => {
    const huge = [good + 'A'.repeat(8_192 - 53), 'sk-sluice-' + 'A'.repeat(8_182), 'x'.repeat(8_192), good.repeat(200)]
    const started = performance.now()
    for (let i = 0; i < 1_000; i++) for (const h of huge) expect(looksLikeVirtualKey(h)).toBe(false)
    expect(performance.now() - started).toBeLessThan(1_000)
  })

  it('refuses non-strings', () => {
    for (const v of [null, undefined, 53, {}, [good], Buffer.from(good), new String(good)]) expect(looksLikeVirtualKey(v)).toBe(false)
  })

  it('accepts exactly the strings of the shape (property)', () => {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...alphabet), { minLength: 43, maxLength: 43 }), (chars) => {
        expect(looksLikeVirtualKey(`sk-sluice-${chars.join('')}`)).toBe(true)
      }),
    )
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (s) => {
        expect(looksLikeVirtualKey(s)).toBe(/^sk-sluice-[A-Za-z0-9_-]{43}$/.test(s))
      }),
    )
  })
})

describe('sameHash', () => {
  it('is true exactly for equal strings (property)', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (a, b) => {
        expect(sameHash(a, b)).toBe(a === b)
        expect(sameHash(a, a)).toBe(true)
      }),
    )
  })

  it('compares stored and computed hashes of keys', () => {
    const k = generateVirtualKey()
    expect(sameHash(k.hash, hashVirtualKey(k.secret))).toBe(true)
    expect(sameHash(k.hash, hashVirtualKey(generateVirtualKey().secret))).toBe(false)
    expect(sameHash(k.hash, k.hash.toUpperCase())).toBe(false)
    expect(sameHash(k.hash, '')).toBe(false)
  })
})
