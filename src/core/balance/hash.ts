// cyrb53 (bryc, public domain): two 32-bit multiply-xor lanes folded into 53 bits. Fast on
// short strings, well mixed, and — unlike a seeded runtime hash — the same on every instance
// and every release, which rendezvous placement depends on. Not for anything adversarial.
//
// The pair form hashes `key + '\0' + id` without building that string: the key's lanes are
// computed once per pick and continued per candidate id.

/** The lanes after absorbing a key and the '\0' separator. */
export interface HashPrefix {
  h1: number
  h2: number
}

export function hashPrefix(key: string, out: HashPrefix): HashPrefix {
  let h1 = 0xdeadbeef
  let h2 = 0x41c6ce57
  for (let i = 0; i < key.length; i++) {
    const ch = key.charCodeAt(i)
    h1 = Math.imul(h1 ^ ch, 2654435761)
    h2 = Math.imul(h2 ^ ch, 1597334677)
  }
  // The separator, so ('ab', 'c') and ('a', 'bc') differ.
  h1 = Math.imul(h1, 2654435761)
  h2 = Math.imul(h2, 1597334677)
  out.h1 = h1
  out.h2 = h2
  return out
}

/** cyrb53 of prefix-key + '\0' + `id`, an integer in [0, 2^53). */
export function hashWith(prefix: HashPrefix, id: string): number {
  let h1 = prefix.h1
  let h2 = prefix.h2
  for (let i = 0; i < id.length; i++) {
    const ch = id.charCodeAt(i)
    h1 = Math.imul(h1 ^ ch, 2654435761)
    h2 = Math.imul(h2 ^ ch, 1597334677)
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507)
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909)
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507)
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909)
  return 4294967296 * (2097151 & h2) + (h1 >>> 0)
}

/** cyrb53 of `key + '\0' + id` (allocates a prefix; the strategy reuses one instead). */
export function hashPair(key: string, id: string): number {
  return hashWith(hashPrefix(key, { h1: 0, h2: 0 }), id)
}
