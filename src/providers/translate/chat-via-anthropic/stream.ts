import { fromAnthropicError } from '../errors.js'
import { isObject, numberOr, parseObject, stringOr } from '../json.js'
import { dataEvent } from '../sse.js'
import type { Scrub, StreamTranslator, TranslatedUsage } from '../types.js'
import { finishReasonOf, usageJson } from './response.js'

// Anthropic's named events (message_start, content_block_*, message_delta, message_stop) as
// OpenAI chat.completion.chunk events. Text deltas and tool-call argument deltas go out as they
// arrive; the finish reason goes out with message_delta, the usage chunk (when asked) and
// [DONE] with message_stop.

export interface ChunkStreamOptions {
  readonly created: number
  readonly includeUsage: boolean
  readonly jsonTool: string | null
  readonly scrub: Scrub
}

const enum Block {
  Ignored,
  Text,
  Tool,
}

export class AnthropicToChatStream implements StreamTranslator {
  readonly usage: TranslatedUsage = { promptTokens: null, completionTokens: null }
  completed = false
  failed = false
  #prefix = ''
  #cached = 0
  /** Per Anthropic block index: what the block becomes, and its OpenAI tool_calls index. */
  #blocks: Block[] = []
  #toolIndex: number[] = []
  #tools = 0
  #sawJsonTool = false
  #finishSent = false

  constructor(private readonly opts: ChunkStreamOptions) {}

  push(e: { readonly event: string; readonly data: string }): string {
    if (this.completed) return ''
    const data = parseObject(e.data)
    if (data === null) return ''
    switch (data.type) {
      case 'message_start':
        return this.#start(data.message)
      case 'content_block_start':
        return this.#blockStart(numberOr(data.index, -1), data.content_block)
      case 'content_block_delta':
        return this.#delta(numberOr(data.index, -1), data.delta)
      case 'message_delta':
        return this.#messageDelta(data.delta, data.usage)
      case 'message_stop':
        return this.#stop()
      case 'error':
        this.completed = this.failed = true
        return dataEvent(JSON.stringify(fromAnthropicError(data, 500, this.opts.scrub)))
      default:
        return '' // ping, content_block_stop, and event types added after this was written
    }
  }

  end(): string {
    return ''
  }

  #chunk(deltaJson: string, finish: string | null): string {
    return dataEvent(`${this.#prefix}${deltaJson},"logprobs":null,"finish_reason":${finish === null ? 'null' : JSON.stringify(finish)}}]}`)
  }

  #start(message: unknown): string {
    const m = isObject(message) ? message : {}
    this.#prefix = `{"id":${JSON.stringify(stringOr(m.id, 'msg'))},"object":"chat.completion.chunk","created":${this.opts.created},"model":${JSON.stringify(stringOr(m.model, ''))},"choices":[{"index":0,"delta":`
    if (isObject(m.usage)) {
      const u = m.usage
      const input = numberOr(u.input_tokens, null)
      this.#cached = numberOr(u.cache_read_input_tokens, 0)
      if (input !== null) this.usage.promptTokens = input + numberOr(u.cache_creation_input_tokens, 0) + this.#cached
    }
    return this.#chunk('{"role":"assistant","content":""}', null)
  }

  #blockStart(index: number, block: unknown): string {
    if (index < 0 || !isObject(block)) return ''
    if (block.type === 'text') {
      this.#blocks[index] = Block.Text
      return typeof block.text === 'string' && block.text !== '' ? this.#chunk(`{"content":${JSON.stringify(block.text)}}`, null) : ''
    }
    if (block.type === 'tool_use' && this.opts.jsonTool !== null && block.name === this.opts.jsonTool) {
      // The forced JSON tool's input is the answer itself.
      this.#blocks[index] = Block.Text
      this.#sawJsonTool = true
      return ''
    }
    if (block.type === 'tool_use') {
      this.#blocks[index] = Block.Tool
      const toolIndex = this.#tools++
      this.#toolIndex[index] = toolIndex
      const call = { index: toolIndex, id: stringOr(block.id, ''), type: 'function', function: { name: stringOr(block.name, ''), arguments: '' } }
      return this.#chunk(`{"tool_calls":[${JSON.stringify(call)}]}`, null)
    }
    this.#blocks[index] = Block.Ignored // thinking, redacted_thinking
    return ''
  }

  #delta(index: number, delta: unknown): string {
    if (!isObject(delta)) return ''
    const kind = this.#blocks[index]
    if (kind === Block.Text) {
      const text = delta.type === 'text_delta' ? delta.text : delta.type === 'input_json_delta' ? delta.partial_json : undefined
      return typeof text === 'string' && text !== '' ? this.#chunk(`{"content":${JSON.stringify(text)}}`, null) : ''
    }
    if (kind === Block.Tool && delta.type === 'input_json_delta' && typeof delta.partial_json === 'string' && delta.partial_json !== '') {
      return this.#chunk(`{"tool_calls":[{"index":${this.#toolIndex[index]},"function":{"arguments":${JSON.stringify(delta.partial_json)}}}]}`, null)
    }
    return ''
  }

  #messageDelta(delta: unknown, usage: unknown): string {
    if (isObject(usage)) {
      const output = numberOr(usage.output_tokens, null)
      if (output !== null) this.usage.completionTokens = output
      // Newer API versions repeat the input counts here, cumulatively.
      const input = numberOr(usage.input_tokens, null)
      if (input !== null) this.usage.promptTokens = input + numberOr(usage.cache_creation_input_tokens, 0) + numberOr(usage.cache_read_input_tokens, this.#cached)
    }
    if (!isObject(delta) || !('stop_reason' in delta) || delta.stop_reason === null || this.#finishSent) return ''
    this.#finishSent = true
    return this.#chunk('{}', finishReasonOf(delta.stop_reason, this.#sawJsonTool && this.#tools === 0))
  }

  #stop(): string {
    this.completed = true
    let out = this.#finishSent ? '' : this.#chunk('{}', 'stop')
    if (this.opts.includeUsage) {
      const head = this.#prefix.slice(0, this.#prefix.indexOf('"choices":'))
      out += dataEvent(`${head}"choices":[],"usage":${JSON.stringify(usageJson(this.usage, this.#cached))}}`)
    }
    return out + 'data: [DONE]\n\n'
  }
}
