/**
 * Which models a consumer may call: its tier's `models` list, where `*` stands for any run of
 * characters (possibly empty) and everything else is literal and case-sensitive, as model names
 * are. `["*"]` allows every model; `[]` allows none.
 */
export interface ModelMatcher {
  readonly patterns: readonly string[]
  allows(model: string): boolean
}

/** Compiles once: exact names into a set, patterns into their literal pieces. */
export function compileModelPatterns(patterns: readonly string[]): ModelMatcher {
  const frozen = Object.freeze([...patterns])
  if (frozen.includes('*')) return { patterns: frozen, allows: () => true }
  const exact = new Set<string>()
  const globs: (readonly string[])[] = []
  for (const p of frozen) {
    if (p.includes('*')) globs.push(p.split('*'))
    else exact.add(p)
  }
  return {
    patterns: frozen,
    allows(model: string): boolean {
      if (exact.has(model)) return true
      for (const pieces of globs) if (globMatch(pieces, model)) return true
      return false
    },
  }
}

const compiled = new WeakMap<readonly string[], ModelMatcher>()

/**
 * `compileModelPatterns(patterns).allows(model)`, compiled once per array (settings hold their
 * lists frozen, so the same array comes back on every request).
 */
export function modelAllowed(patterns: readonly string[] | ModelMatcher, model: string): boolean {
  if (!isArray(patterns)) return patterns.allows(model)
  let m = compiled.get(patterns)
  if (m === undefined) compiled.set(patterns, (m = compileModelPatterns(patterns)))
  return m.allows(model)
}

function isArray(p: readonly string[] | ModelMatcher): p is readonly string[] {
  return Array.isArray(p)
}

/**
 * `pieces` is a pattern split at its stars: the first piece must start the name, the last must
 * end it, the middle ones must appear in order between them. Taking each middle piece at its
 * earliest place is always right (it leaves the most room for the rest), so this is linear in the
 * name — a regular expression with several `.*` can backtrack polynomially on a hostile name.
 */
function globMatch(pieces: readonly string[], name: string): boolean {
  const first = pieces[0] ?? ''
  const last = pieces[pieces.length - 1] ?? ''
  if (name.length < first.length + last.length) return false
  if (!name.startsWith(first) || !name.endsWith(last)) return false
  let at = first.length
  const end = name.length - last.length
  for (let i = 1; i < pieces.length - 1; i++) {
    const piece = pieces[i] ?? ''
    if (piece === '') continue
    const found = name.indexOf(piece, at)
    if (found === -1 || found + piece.length > end) return false
    at = found + piece.length
  }
  return true
}
