import type { Deployment } from '../../config/runtime.js'
import type { RequestContext } from '../../context.js'
import {
  AnthropicToChatStream,
  ChatToAnthropicStream,
  chatToMessages,
  completionToMessage,
  messagesToChat,
  messageToCompletion,
  type StreamTranslator,
  type TranslatedUsage,
} from '../../providers/translate/index.js'
import type { JsonObject } from '../../providers/translate/json.js'
import { scrubText } from './scrub.js'

/**
 * A request on its way to a provider of the other dialect: the body in the provider's dialect,
 * and how its answer comes back. Same-dialect requests have none and pay nothing for it.
 */
export interface Translation {
  readonly body: Buffer
  /** The upstream's complete JSON answer in the client's dialect; null when it is not a valid answer. */
  answer(upstream: JsonObject): { body: JsonObject; usage: TranslatedUsage } | null
  /** A fresh incremental translator for the upstream's stream. */
  stream(): StreamTranslator
}

/**
 * The translation `ctx` needs for `deployment`, or null when the provider speaks the client's
 * dialect. Throws a 400 (unsupported_parameter, invalid_request_error) for what cannot be said
 * in the provider's dialect, before anything is sent.
 */
export function translationFor(ctx: RequestContext, deployment: Deployment): Translation | null {
  const type = deployment.provider.dialect.type
  if (ctx.endpoint === 'chat' && type === 'anthropic') return chatViaAnthropic(ctx, deployment)
  if (ctx.endpoint === 'messages' && type !== 'anthropic') return messagesViaOpenAi(ctx, deployment)
  return null
}

function chatViaAnthropic(ctx: RequestContext, deployment: Deployment): Translation {
  const t = chatToMessages(ctx.json!, { upstreamModel: deployment.upstreamModel, defaultMaxTokens: deployment.provider.defaultMaxTokens })
  const created = Math.floor(Date.now() / 1000)
  const scrub = (text: string): string => scrubText(text, ctx.runtime.secrets)
  return {
    body: Buffer.from(JSON.stringify(t.body)),
    answer: (upstream) => messageToCompletion(upstream, { created, jsonTool: t.jsonTool }),
    stream: () => new AnthropicToChatStream({ created, includeUsage: t.includeUsage, jsonTool: t.jsonTool, scrub }),
  }
}

function messagesViaOpenAi(ctx: RequestContext, deployment: Deployment): Translation {
  const t = messagesToChat(ctx.json!, { upstreamModel: deployment.upstreamModel })
  const scrub = (text: string): string => scrubText(text, ctx.runtime.secrets)
  const inputTokensEstimate = ctx.tokenEstimate().input
  return {
    body: Buffer.from(JSON.stringify(t.body)),
    answer: (upstream) => completionToMessage(upstream),
    stream: () => new ChatToAnthropicStream({ inputTokensEstimate, scrub }),
  }
}
