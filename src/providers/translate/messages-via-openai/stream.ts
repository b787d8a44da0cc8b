import { fromOpenAiError } from '../errors.js'
import { isObject, isSet, numberOr, parseObject, stringOr } from '../json.js'
import { namedEvent } from '../sse.js'
import type { Scrub, StreamTranslator, TranslatedUsage } from '../types.js'
import { stopReasonOf } from './response.js'

// OpenAI chat.completion.chunk events as Anthropic's event sequence: message_start, then for
// each run of text or each tool call a content_block_start / _delta… / _stop, then
// message_delta (stop reason, usage) and message_stop. OpenAI reports usage in a last chunk
// after the finish reason, so message_delta waits for [DONE].

export interface AnthropicStreamOptions {
  /** OpenAI streams say the prompt's size only at the end; message_start carries this estimate, message_delta the count. */
  readonly inputTokensEstimate: number
  readonly scrub: Scrub
}

const NONE = -1

export class ChatToAnthropicStream implements StreamTranslator {
  readonly usage: TranslatedUsage = { promptTokens: null, completionTokens: null }
  completed = false
  failed = false
  #started = false
  /** Anthropic index of the open block, NONE when no block is open. */
  #open = NONE
  /** OpenAI tool_calls index of the open block, NONE when it is a text block. */
  #openTool = NONE
  #nextBlock = 0
  /** OpenAI tool index → Anthropic block index, for argument deltas of a call that is no longer the open one. */
  #toolBlocks = new Map<number, number>()
  #stopReason: string | null = null

  constructor(private readonly opts: AnthropicStreamOptions) {}

  push(e: { readonly event: string; readonly data: string }): string {
    if (this.completed) return ''
    if (e.data === '[DONE]') return this.#finish()
    const chunk = parseObject(e.data)
    if (chunk === null) return ''
    if (isObject(chunk.error)) {
      this.completed = this.failed = true
      return namedEvent('error', JSON.stringify(fromOpenAiError(chunk, 500, this.opts.scrub)))
    }
    let out = this.#started ? '' : this.#start(chunk)
    if (isObject(chunk.usage)) {
      this.usage.promptTokens = numberOr(chunk.usage.prompt_tokens, this.usage.promptTokens)
      this.usage.completionTokens = numberOr(chunk.usage.completion_tokens, this.usage.completionTokens)
    }
    const choice: unknown = Array.isArray(chunk.choices) ? chunk.choices[0] : undefined
    if (!isObject(choice)) return out
    const delta = choice.delta
    if (isObject(delta)) {
      if (typeof delta.content === 'string' && delta.content !== '') out += this.#text(delta.content)
      if (Array.isArray(delta.tool_calls)) for (const call of delta.tool_calls as unknown[]) out += this.#toolCall(call)
    }
    if (isSet(choice.finish_reason)) {
      out += this.#close()
      this.#stopReason = stopReasonOf(choice.finish_reason)
    }
    return out
  }

  /** Lenient upstreams end without [DONE]; a finish reason is then enough to call it complete. */
  end(): string {
    if (this.completed || this.#stopReason === null) return ''
    return this.#finish()
  }

  #start(chunk: Record<string, unknown>): string {
    this.#started = true
    const message = {
      id: stringOr(chunk.id, 'msg'),
      type: 'message',
      role: 'assistant',
      model: stringOr(chunk.model, ''),
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { input_tokens: this.opts.inputTokensEstimate, output_tokens: 0 },
    }
    return namedEvent('message_start', JSON.stringify({ type: 'message_start', message }))
  }

  #text(text: string): string {
    let out = ''
    if (this.#open === NONE || this.#openTool !== NONE) {
      out += this.#close()
      out += this.#openBlock(NONE, '{"type":"text","text":""}')
    }
    return out + namedEvent('content_block_delta', `{"type":"content_block_delta","index":${this.#open},"delta":{"type":"text_delta","text":${JSON.stringify(text)}}}`)
  }

  #toolCall(call: unknown): string {
    if (!isObject(call)) return ''
    const toolIndex = numberOr(call.index, 0)
    const fn = isObject(call.function) ? call.function : {}
    let out = ''
    let block = this.#toolBlocks.get(toolIndex)
    if (block === undefined) {
      out += this.#close()
      const start = { type: 'tool_use', id: stringOr(call.id, ''), name: stringOr(fn.name, ''), input: {} }
      out += this.#openBlock(toolIndex, JSON.stringify(start))
      block = this.#open
      this.#toolBlocks.set(toolIndex, block)
    }
    if (typeof fn.arguments === 'string' && fn.arguments !== '') {
      out += namedEvent('content_block_delta', `{"type":"content_block_delta","index":${block},"delta":{"type":"input_json_delta","partial_json":${JSON.stringify(fn.arguments)}}}`)
    }
    return out
  }

  /** Opens the next block; its index is then #open. */
  #openBlock(toolIndex: number, blockJson: string): string {
    this.#open = this.#nextBlock++
    this.#openTool = toolIndex
    return namedEvent('content_block_start', `{"type":"content_block_start","index":${this.#open},"content_block":${blockJson}}`)
  }

  #close(): string {
    if (this.#open === NONE) return ''
    const out = namedEvent('content_block_stop', `{"type":"content_block_stop","index":${this.#open}}`)
    this.#open = NONE
    this.#openTool = NONE
    return out
  }

  #finish(): string {
    this.completed = true
    let out = this.#started ? '' : this.#start({})
    out += this.#close()
    const usage: Record<string, number> = { output_tokens: this.usage.completionTokens ?? 0 }
    if (this.usage.promptTokens !== null) usage.input_tokens = this.usage.promptTokens
    out += namedEvent('message_delta', JSON.stringify({ type: 'message_delta', delta: { stop_reason: this.#stopReason ?? 'end_turn', stop_sequence: null }, usage }))
    return out + namedEvent('message_stop', '{"type":"message_stop"}')
  }
}

