import { isObject, numberOr, parseObject, stringOr, type JsonObject } from '../json.js'
import type { TranslatedUsage } from '../types.js'

// An OpenAI chat.completion, as the Anthropic message the client asked for.

const stopReasons: Readonly<Record<string, string>> = {
  stop: 'end_turn',
  length: 'max_tokens',
  tool_calls: 'tool_use',
  function_call: 'tool_use',
  content_filter: 'refusal',
}

export function stopReasonOf(finish: unknown): string {
  return typeof finish === 'string' ? (stopReasons[finish] ?? 'end_turn') : 'end_turn'
}

export function usageOf(usage: unknown): TranslatedUsage {
  if (!isObject(usage)) return { promptTokens: null, completionTokens: null }
  return { promptTokens: numberOr(usage.prompt_tokens, null), completionTokens: numberOr(usage.completion_tokens, null) }
}

/** Tool arguments as the object Anthropic's tool_use.input is; a malformed string from the model is kept under one key rather than lost. */
export function toolInput(args: unknown): JsonObject {
  if (typeof args !== 'string' || args.trim() === '') return {}
  return parseObject(args) ?? { _raw_arguments: args }
}

/** An Anthropic message from a chat.completion; null when the body is not one. */
export function completionToMessage(completion: JsonObject): { body: JsonObject; usage: TranslatedUsage } | null {
  if (!Array.isArray(completion.choices)) return null
  const choice: unknown = completion.choices[0]
  const message = isObject(choice) && isObject(choice.message) ? choice.message : {}
  const content: JsonObject[] = []
  const text = typeof message.content === 'string' ? message.content : typeof message.refusal === 'string' ? message.refusal : ''
  if (text !== '') content.push({ type: 'text', text })
  if (Array.isArray(message.tool_calls)) {
    for (const call of message.tool_calls as unknown[]) {
      if (!isObject(call) || !isObject(call.function)) continue
      content.push({ type: 'tool_use', id: stringOr(call.id, ''), name: stringOr(call.function.name, ''), input: toolInput(call.function.arguments) })
    }
  }
  const usage = usageOf(completion.usage)
  const body: JsonObject = {
    id: stringOr(completion.id, 'msg'),
    type: 'message',
    role: 'assistant',
    model: stringOr(completion.model, ''),
    content,
    stop_reason: stopReasonOf(isObject(choice) ? choice.finish_reason : null),
    stop_sequence: null,
    usage: { input_tokens: usage.promptTokens ?? 0, output_tokens: usage.completionTokens ?? 0 },
  }
  return { body, usage }
}
