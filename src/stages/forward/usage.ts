import type { Usage } from '../../context.js'

// Usage sits at the end of an OpenAI response body and in the last events of a stream, so a
// short tail is enough to read it without parsing whole bodies on the hot path.

const prompt = /"(?:prompt_tokens|input_tokens)"\s*:\s*(\d+)/g
const completion = /"(?:completion_tokens|output_tokens)"\s*:\s*(\d+)/g

function lastMatch(re: RegExp, text: string): number | null {
  let value: number | null = null
  re.lastIndex = 0
  for (let m = re.exec(text); m !== null; m = re.exec(text)) value = Number(m[1])
  return value
}

export function usageFromTail(tail: string): Usage | null {
  if (!tail.includes('_tokens"')) return null
  const p = lastMatch(prompt, tail)
  const c = lastMatch(completion, tail)
  if (p === null && c === null) return null
  return { promptTokens: p ?? 0, completionTokens: c ?? 0 }
}
