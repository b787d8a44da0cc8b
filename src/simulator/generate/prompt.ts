/** A cheap prompt-token estimate, as the gateway's own is: characters / 4, at least 1. */
export function estimateTokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4))
}

/**
 * The text of a message `content`: a string, or an array of parts of which text parts count
 * (OpenAI `{type:'text',text}`, Anthropic text blocks alike).
 */
export function contentText(content: unknown): string {
  if (typeof content === 'string') return content
  if (!Array.isArray(content)) return ''
  let out = ''
  for (const part of content) {
    if (typeof part === 'string') out += part
    else if (isRecord(part) && typeof part.text === 'string') out += part.text
  }
  return out
}

export function messagesText(messages: readonly unknown[]): string {
  let out = ''
  for (const m of messages) if (isRecord(m)) out += contentText(m.content) + '\n'
  return out
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
