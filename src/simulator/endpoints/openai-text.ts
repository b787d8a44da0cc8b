import type { SimulatorRuntime } from '../config/compile.js'
import { estimateTokens, isRecord } from '../generate/prompt.js'
import { fnv1a, type TokenSequence } from '../generate/text.js'
import type { ParsedRequest, ResponseMeta, StreamEncoder } from './types.js'

export type TextRenderer = (meta: ResponseMeta, tokens: TokenSequence, promptTokens: number, finishReason: string) => string
export type TextStreamer = (meta: ResponseMeta, count: number, promptTokens: number, finishReason: string, includeUsage: boolean) => StreamEncoder

/** What chat and legacy completions share: token accounting, stream options, the finish reason. */
export function textRequest(
  body: Record<string, unknown>,
  model: string,
  prompt: string,
  maxTokens: number | undefined,
  runtime: SimulatorRuntime,
  render: TextRenderer,
  stream: TextStreamer,
): ParsedRequest {
  const promptTokens = estimateTokens(prompt)
  const completionTokens = maxTokens ?? runtime.completionTokens
  const streaming = body.stream === true
  const includeUsage = streaming && isRecord(body.stream_options) && body.stream_options.include_usage === true
  // The model always runs to max_tokens when one is given, so its finish reason is "length".
  const finishReason = maxTokens === undefined ? 'stop' : 'length'
  return {
    model,
    stream: streaming,
    tokenCost: promptTokens + completionTokens,
    completionTokens,
    seed: fnv1a(`${model}\n${prompt}`),
    render: (meta, tokens) => render(meta, tokens, promptTokens, finishReason),
    encoder: (meta, tokens) => stream(meta, tokens.count, promptTokens, finishReason, includeUsage),
  }
}
