/**
 * Deterministic generated text. Every token holds at least one multi-byte UTF-8 character
 * (2-, 3- and 4-byte ones, emoji included) so any chunk the gateway relays can be split inside
 * a character, and byte-fidelity tests mean something whatever the output length.
 */
const VOCABULARY: readonly string[] = [
  ' café', ' 日本', ' 🚀', ' naïve', ' über', ' 東京', ' señor', ' ✨', ' crème', ' мир',
  ' façade', ' 한국', ' Zürich', ' 🌍', ' déjà', ' γειά', ' São', ' 你好', ' résumé', ' 👋',
  ' piñata', ' Ωmega', ' élan', ' ½', ' jalapeño', ' 東', ' smörgås', ' 🎉', ' coöp', ' Ærø', ' ñandú',
]

/** JSON string literals of the vocabulary, built once: the stream path concatenates them. */
const VOCABULARY_JSON: readonly string[] = VOCABULARY.map((t) => JSON.stringify(t))

// Coprime with the vocabulary size, so a sequence walks the whole vocabulary before repeating.
const STRIDE = 7

export interface TokenSequence {
  readonly count: number
  text(i: number): string
  json(i: number): string
  /** All tokens joined: the non-streamed answer. */
  joined(): string
}

export function tokenSequence(seed: number, count: number): TokenSequence {
  const index = (i: number): number => (seed + i * STRIDE) % VOCABULARY.length
  return {
    count,
    text: (i) => VOCABULARY[index(i)] ?? '',
    json: (i) => VOCABULARY_JSON[index(i)] ?? '""',
    joined() {
      let out = ''
      for (let i = 0; i < count; i++) out += VOCABULARY[index(i)] ?? ''
      return out
    },
  }
}

/** FNV-1a over UTF-16 code units: cheap, stable, good enough to pick a starting token. */
export function fnv1a(text: string): number {
  let hash = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193)
  }
  return hash >>> 0
}
