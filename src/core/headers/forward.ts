// The client headers a provider receives as they were sent: a short list per provider, fixed
// at config time (its dialect's own, plus `forward_headers`). The dialect's lists are what the
// official clients send to choose an organisation, a project or a beta feature.

export const dialectForwardHeaders: Readonly<Record<'openai' | 'azure' | 'anthropic', readonly string[]>> = {
  openai: ['openai-organization', 'openai-project', 'openai-beta'],
  azure: ['openai-organization', 'openai-project', 'openai-beta'],
  anthropic: ['anthropic-beta', 'anthropic-version'],
}

/** The header names forwarded to one provider: its dialect's, then its own, lower case, each once. */
export function forwardHeaderList(dialect: keyof typeof dialectForwardHeaders, extra: readonly string[]): readonly string[] {
  return Object.freeze([...new Set([...dialectForwardHeaders[dialect], ...extra.map((h) => h.toLowerCase())])])
}

/**
 * Appends to `out` (flat name, value pairs) each listed header the client sent once. A header
 * sluice already set for the key (anthropic-version) takes the client's value instead, so a
 * client can pin the API version it was written against.
 */
export function forwardClientHeaders(out: string[], incoming: Readonly<Record<string, string | string[] | undefined>>, names: readonly string[]): void {
  for (const name of names) {
    const value = incoming[name]
    if (typeof value !== 'string') continue
    const at = out.indexOf(name)
    if (at !== -1 && at % 2 === 0) out[at + 1] = value
    else out.push(name, value)
  }
}
