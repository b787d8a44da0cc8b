import { isObject, numberOr, stringOr, type JsonObject } from '../json.js'
import type { TranslatedUsage } from '../types.js'

// Anthropic's answer to a translated chat request, as the chat.completion the client asked for.

const finishReasons: Readonly<Record<string, string>> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  pause_turn: 'stop',
  max_tokens: 'length',
  model_context_window_exceeded: 'length',
  tool_use: 'tool_calls',
  refusal: 'content_filter',
}

/** OpenAI's finish_reason for an Anthropic stop_reason; a forced JSON tool ends as a plain stop. */
export function finishReasonOf(stopReason: unknown, viaJsonTool: boolean): string {
  if (stopReason === 'tool_use' && viaJsonTool) return 'stop'
  return typeof stopReason === 'string' ? (finishReasons[stopReason] ?? 'stop') : 'stop'
}

/** Prompt tokens as OpenAI counts them: cached and cache-writing input included. */
export function usageOf(usage: unknown): TranslatedUsage {
  if (!isObject(usage)) return { promptTokens: null, completionTokens: null }
  const input = numberOr(usage.input_tokens, null)
  const prompt = input === null ? null : input + numberOr(usage.cache_creation_input_tokens, 0) + numberOr(usage.cache_read_input_tokens, 0)
  return { promptTokens: prompt, completionTokens: numberOr(usage.output_tokens, null) }
}

export function usageJson(u: TranslatedUsage, cachedTokens: number): JsonObject {
  const prompt = u.promptTokens ?? 0
  const completion = u.completionTokens ?? 0
  const out: JsonObject = { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion }
  if (cachedTokens > 0) out.prompt_tokens_details = { cached_tokens: cachedTokens }
  return out
}

export interface CompletionOptions {
  readonly created: number
  readonly jsonTool: string | null
}

/** A chat.completion from an Anthropic message; null when the body is not a message. */
export function messageToCompletion(message: JsonObject, opts: CompletionOptions): { body: JsonObject; usage: TranslatedUsage } | null {
  if (message.type !== 'message' || !Array.isArray(message.content)) return null
  let text = ''
  let hasText = false
  const toolCalls: JsonObject[] = []
  for (const block of message.content as unknown[]) {
    if (!isObject(block)) continue
    if (block.type === 'text' && typeof block.text === 'string') {
      text += block.text
      hasText = true
    } else if (block.type === 'tool_use' && opts.jsonTool !== null && block.name === opts.jsonTool) {
      text += JSON.stringify(block.input ?? {})
      hasText = true
    } else if (block.type === 'tool_use') {
      toolCalls.push({ id: stringOr(block.id, ''), type: 'function', function: { name: stringOr(block.name, ''), arguments: JSON.stringify(block.input ?? {}) } })
    }
    // thinking and redacted_thinking blocks have no place in a chat completion.
  }
  const reply: JsonObject = { role: 'assistant', content: hasText || toolCalls.length === 0 ? text : null, refusal: null }
  if (toolCalls.length > 0) reply.tool_calls = toolCalls
  const usage = usageOf(message.usage)
  const cached = isObject(message.usage) ? numberOr(message.usage.cache_read_input_tokens, 0) : 0
  const body: JsonObject = {
    id: stringOr(message.id, 'msg'),
    object: 'chat.completion',
    created: opts.created,
    model: stringOr(message.model, ''),
    choices: [{ index: 0, message: reply, logprobs: null, finish_reason: finishReasonOf(message.stop_reason, opts.jsonTool !== null && toolCalls.length === 0) }],
    usage: usageJson(usage, cached),
  }
  return { body, usage }
}
