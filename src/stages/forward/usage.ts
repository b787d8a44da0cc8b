import type { Usage } from '../../context.js'

// Usage sits at the end of an OpenAI response body and in the last events of a stream, so a
// short tail is enough to read it without parsing whole bodies on the hot path.

const prompt = /"(?:prompt_tokens|input_tokens)"\s*:\s*(\d+)/g
const completion = /"(?:completion_tokens|output_tokens)"\s*:\s*(\d+)/g

function lastMatch(re: RegExp, text: string): number | null {
  let value: number | null = null
  re.lastIndex = 0
  for (let m = re.exec(text); m !== null; m = re.exec(text)) value = Number(m[1])
  // The text is the upstream's (on passthrough, any file): a count no integer can hold is no count.
  return value !== null && Number.isSafeInteger(value) ? value : null
}

/** Token counts from a piece of a response (its tail, or a stream's first event); null when it has none. */
export function usageFromText(text: string): Usage | null {
  if (!text.includes('_tokens"')) return null
  const p = lastMatch(prompt, text)
  const c = lastMatch(completion, text)
  if (p === null && c === null) return null
  return { promptTokens: p, completionTokens: c }
}

/** Counts from the end of a response win; the head fills in what the end lacks. */
export function mergeUsage(head: Usage | null, tail: Usage | null): Usage | null {
  if (head === null) return tail
  if (tail === null) return head
  return { promptTokens: tail.promptTokens ?? head.promptTokens, completionTokens: tail.completionTokens ?? head.completionTokens }
}
