import { SseParser } from './sse.js'
import type { StreamTranslator } from './types.js'

export { chatToMessages, type ChatTranslation, type ChatToMessagesOptions } from './chat-via-anthropic/request.js'
export { messageToCompletion } from './chat-via-anthropic/response.js'
export { AnthropicToChatStream, type ChunkStreamOptions } from './chat-via-anthropic/stream.js'
export { messagesToChat, type MessagesTranslation } from './messages-via-openai/request.js'
export { completionToMessage } from './messages-via-openai/response.js'
export { ChatToAnthropicStream, type AnthropicStreamOptions } from './messages-via-openai/stream.js'
export { fromAnthropicError, fromOpenAiError, toAnthropicError } from './errors.js'
export { SseParser, type SseEvent } from './sse.js'
export type { Scrub, StreamTranslator, TranslatedUsage } from './types.js'

/** An upstream stream's raw bytes in, the client's events out: the parser and a translator joined. */
export class TranslatingStream {
  readonly #parser = new SseParser()

  constructor(readonly translator: StreamTranslator) {}

  write(chunk: Buffer): string {
    let out = ''
    for (const event of this.#parser.push(chunk)) out += this.translator.push(event)
    return out
  }

  end(): string {
    let out = ''
    for (const event of this.#parser.end()) out += this.translator.push(event)
    return out + this.translator.end()
  }

  get completed(): boolean {
    return this.translator.completed
  }
}
