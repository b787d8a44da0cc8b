import { KeyScrubber } from './key-scrubber.js'

/**
 * Finds provider secrets, whole or in part, in text that came from an upstream. Every
 * 8-character window of every secret is indexed once at config time; a text is then scanned
 * with one set lookup per position, so the cost grows with the text, not with the number of
 * keys. Any run of characters covered by windows is a quoted piece of a key.
 *
 * It also carries the byte-level `scrubber` built from the same values, which masks each
 * key's full value in every body relayed to a client.
 */

// Values that self-hosted servers' docs tell users to put where a key goes (vLLM, llama.cpp,
// LocalAI, Ollama). They guard nothing, and matching them would cut words such as "required"
// out of upstream messages.
const placeholders = new Set(['none', 'empty', 'null', 'dummy', 'ollama', 'not-needed', 'no-key', 'sk-no-key-required', 'sk-xxx', 'token-abc123', 'sk-1234'])

export class SecretIndex {
  static readonly window = 8
  readonly #windows: ReadonlySet<string>
  /** Masks whole keys in relayed bytes, split across chunks or not. */
  readonly scrubber: KeyScrubber

  constructor(secrets: readonly string[]) {
    const windows = new Set<string>()
    const w = SecretIndex.window
    const keys: string[] = []
    // Shorter values (vLLM's "none", Ollama's "EMPTY") are placeholders, not secrets, and
    // matching them would strip ordinary words from upstream text.
    for (const secret of secrets) {
      if (placeholders.has(secret.toLowerCase()) || secret.length < w) continue
      keys.push(secret)
      for (let i = 0; i + w <= secret.length; i++) windows.add(secret.slice(i, i + w))
    }
    this.#windows = windows
    this.scrubber = new KeyScrubber(keys)
  }

  get size(): number {
    return this.#windows.size
  }

  holds(text: string): boolean {
    const w = SecretIndex.window
    if (this.#windows.size === 0) return false
    for (let i = 0; i + w <= text.length; i++) if (this.#windows.has(text.slice(i, i + w))) return true
    return false
  }

  /** `text` with every stretch covered by a secret's windows replaced by `replacement`. */
  redact(text: string, replacement = '[redacted]'): string {
    const w = SecretIndex.window
    if (this.#windows.size === 0 || text.length < w) return text
    let out = ''
    let copiedTo = 0
    let coveredTo = -1
    let runStart = -1
    for (let i = 0; i + w <= text.length; i++) {
      if (!this.#windows.has(text.slice(i, i + w))) continue
      if (i > coveredTo) {
        if (runStart !== -1) {
          out += text.slice(copiedTo, runStart) + replacement
          copiedTo = coveredTo
        }
        runStart = i
      }
      coveredTo = i + w
    }
    if (runStart === -1) return text
    return out + text.slice(copiedTo, runStart) + replacement + text.slice(coveredTo)
  }
}
