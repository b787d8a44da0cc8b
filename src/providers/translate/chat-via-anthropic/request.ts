import { SluiceError } from '../../../errors.js'
import { isObject, isSet, type JsonObject } from '../json.js'

// An OpenAI chat completions request, rewritten for Anthropic's Messages API. Everything the
// client asked for is either carried over with the same meaning or refused with a 400 that
// names the field: a silently dropped parameter would change the answer without telling.

export interface ChatToMessagesOptions {
  readonly upstreamModel: string
  /** Anthropic requires max_tokens; used when the client sent neither max_tokens nor max_completion_tokens. */
  readonly defaultMaxTokens: number
}

/** What the response translators need to know about the request they answer. */
export interface ChatTranslation {
  readonly body: JsonObject
  readonly stream: boolean
  /** The client asked for a usage chunk at the end of its stream (`stream_options.include_usage`). */
  readonly includeUsage: boolean
  /**
   * `response_format` with a schema is expressed as one forced tool; its input is the JSON answer,
   * which the response translators turn back into message content.
   */
  readonly jsonTool: string | null
}

const ANTHROPIC = 'Anthropic Messages'

// Every parameter this translator knows: carried over below, refused below unless neutral, or
// dropped because it does not change the answer (seed is best effort at OpenAI too; store,
// metadata and service_tier are bookkeeping on OpenAI's side). Anything else is refused.
const known = new Set(['seed', 'store', 'metadata', 'service_tier', 'stream_options', 'parallel_tool_calls', 'user', 'model', 'messages', 'stream', 'max_tokens', 'max_completion_tokens', 'temperature', 'top_p', 'stop', 'tools', 'tool_choice', 'response_format', 'n', 'presence_penalty', 'frequency_penalty', 'logprobs', 'top_logprobs', 'logit_bias'])

const JSON_OBJECT_TOOL = 'json_response'

function unsupported(param: string, why: string): SluiceError {
  return new SluiceError('unsupported_parameter', [param, ANTHROPIC, why], { param })
}

function invalid(param: string, why: string): SluiceError {
  return new SluiceError('invalid_request_error', [`${param}: ${why}`], { param })
}

export function chatToMessages(chat: JsonObject, opts: ChatToMessagesOptions): ChatTranslation {
  for (const name of Object.keys(chat)) {
    if (!known.has(name) && isSet(chat[name])) throw unsupported(name, 'Anthropic has no such parameter')
  }
  refuseUnlessDefault(chat)
  const body: JsonObject = { model: opts.upstreamModel }
  const { system, messages } = translateMessages(chat.messages)
  if (system !== null) body.system = system
  body.messages = messages
  body.max_tokens = maxTokens(chat, opts.defaultMaxTokens)
  copySampling(chat, body)
  const stop = stopSequences(chat.stop)
  if (stop !== null) body.stop_sequences = stop
  if (typeof chat.user === 'string' && chat.user !== '') body.metadata = { user_id: chat.user }
  const jsonTool = translateTools(chat, body)
  const stream = chat.stream === true
  if (stream) body.stream = true
  const options = chat.stream_options
  const includeUsage = stream && isObject(options) && options.include_usage === true
  return { body, stream, includeUsage, jsonTool }
}

/** Parameters Anthropic has no way to honour unless they are at their neutral value. */
function refuseUnlessDefault(chat: JsonObject): void {
  if (isSet(chat.n) && chat.n !== 1) throw unsupported('n', 'Anthropic returns one choice per request')
  if (chat.logprobs === true) throw unsupported('logprobs', 'Anthropic does not return log probabilities')
  if (isSet(chat.top_logprobs) && chat.top_logprobs !== 0) throw unsupported('top_logprobs', 'Anthropic does not return log probabilities')
  for (const penalty of ['presence_penalty', 'frequency_penalty'] as const) {
    if (isSet(chat[penalty]) && chat[penalty] !== 0) throw unsupported(penalty, 'Anthropic has no repetition penalties')
  }
  if (isObject(chat.logit_bias) && Object.keys(chat.logit_bias).length > 0) throw unsupported('logit_bias', 'Anthropic does not take token biases')
}

function maxTokens(chat: JsonObject, fallback: number): number {
  const given = chat.max_completion_tokens ?? chat.max_tokens
  if (given === undefined || given === null) return fallback
  if (typeof given !== 'number' || !Number.isInteger(given) || given < 1) {
    throw invalid(chat.max_completion_tokens !== undefined ? 'max_completion_tokens' : 'max_tokens', 'must be a positive integer')
  }
  return given
}

function copySampling(chat: JsonObject, body: JsonObject): void {
  if (isSet(chat.temperature)) {
    const t = chat.temperature
    if (typeof t !== 'number' || t < 0) throw invalid('temperature', 'must be a number from 0 to 2')
    // OpenAI's scale runs to 2, Anthropic's to 1; rescaling would change what the client chose.
    if (t > 1) throw unsupported('temperature', 'Anthropic accepts temperatures from 0 to 1')
    body.temperature = t
  }
  if (isSet(chat.top_p)) {
    if (typeof chat.top_p !== 'number' || chat.top_p < 0 || chat.top_p > 1) throw invalid('top_p', 'must be a number from 0 to 1')
    body.top_p = chat.top_p
  }
}

function stopSequences(stop: unknown): string[] | null {
  if (!isSet(stop)) return null
  if (typeof stop === 'string') return [stop]
  if (Array.isArray(stop) && stop.every((s) => typeof s === 'string')) return stop.length === 0 ? null : (stop as string[])
  throw invalid('stop', 'must be a string or an array of strings')
}

interface Turn {
  role: 'user' | 'assistant'
  content: JsonObject[]
}

function translateMessages(raw: unknown): { system: string | null; messages: Turn[] } {
  if (!Array.isArray(raw) || raw.length === 0) throw invalid('messages', 'must be a non-empty array')
  const systemParts: string[] = []
  const turns: Turn[] = []
  raw.forEach((m: unknown, i) => {
    const at = `messages[${i}]`
    if (!isObject(m)) throw invalid(at, 'must be an object')
    switch (m.role) {
      case 'system':
      case 'developer':
        // Anthropic takes one system prompt, before the conversation; later ones join it.
        systemParts.push(textOnly(m.content, `${at}.content`))
        return
      case 'user':
        return addTurn(turns, 'user', userBlocks(m.content, `${at}.content`))
      case 'assistant':
        return addTurn(turns, 'assistant', assistantBlocks(m, at))
      case 'tool': {
        if (typeof m.tool_call_id !== 'string') throw invalid(`${at}.tool_call_id`, 'is required for a tool message')
        const result: JsonObject = { type: 'tool_result', tool_use_id: m.tool_call_id, content: textOnly(m.content, `${at}.content`) }
        return addTurn(turns, 'user', [result])
      }
      case 'function':
        throw unsupported(`${at}.role`, 'the deprecated function role has no counterpart; use tool messages')
      default:
        throw invalid(`${at}.role`, 'must be system, developer, user, assistant or tool')
    }
  })
  return { system: systemParts.length === 0 ? null : systemParts.join('\n\n'), messages: turns }
}

/** Anthropic wants user and assistant turns to alternate: consecutive messages of one role become one turn. */
function addTurn(turns: Turn[], role: Turn['role'], content: JsonObject[]): void {
  if (content.length === 0) return
  const last = turns[turns.length - 1]
  if (last !== undefined && last.role === role) {
    last.content.push(...content)
    // Tool results must lead the user turn that answers a tool call.
    if (role === 'user') last.content = [...last.content.filter((b) => b.type === 'tool_result'), ...last.content.filter((b) => b.type !== 'tool_result')]
    return
  }
  turns.push({ role, content })
}

function textOnly(content: unknown, at: string): string {
  if (typeof content === 'string') return content
  if (!Array.isArray(content)) throw invalid(at, 'must be a string or an array of text parts')
  return content
    .map((part: unknown, j) => {
      if (!isObject(part) || part.type !== 'text' || typeof part.text !== 'string') throw unsupported(`${at}[${j}]`, 'only text parts are possible here')
      return part.text
    })
    .join('')
}

function userBlocks(content: unknown, at: string): JsonObject[] {
  if (typeof content === 'string') return content === '' ? [] : [{ type: 'text', text: content }]
  if (!Array.isArray(content)) throw invalid(at, 'must be a string or an array of content parts')
  return content.map((part: unknown, j) => {
    const here = `${at}[${j}]`
    if (!isObject(part)) throw invalid(here, 'must be an object')
    if (part.type === 'text') {
      if (typeof part.text !== 'string') throw invalid(`${here}.text`, 'must be a string')
      return { type: 'text', text: part.text }
    }
    if (part.type === 'image_url') return imageBlock(part.image_url, `${here}.image_url`)
    throw unsupported(`${here}.type`, `content parts of type ${JSON.stringify(part.type)} cannot be sent to Anthropic`)
  })
}

const dataUrl = /^data:(image\/(?:jpeg|png|gif|webp));base64,(.*)$/s

function imageBlock(image: unknown, at: string): JsonObject {
  if (!isObject(image) || typeof image.url !== 'string') throw invalid(`${at}.url`, 'must be a string')
  const url = image.url
  if (url.startsWith('data:')) {
    const m = dataUrl.exec(url)
    if (m === null) throw unsupported(`${at}.url`, 'Anthropic takes base64 images of type jpeg, png, gif or webp only')
    return { type: 'image', source: { type: 'base64', media_type: m[1], data: m[2] } }
  }
  if (!/^https?:\/\//i.test(url)) throw invalid(`${at}.url`, 'must be an http(s) URL or a data URL')
  return { type: 'image', source: { type: 'url', url } }
}

function assistantBlocks(m: JsonObject, at: string): JsonObject[] {
  const blocks: JsonObject[] = []
  if (isSet(m.content)) {
    const text = assistantText(m.content, `${at}.content`)
    if (text !== '') blocks.push({ type: 'text', text })
  }
  if (isSet(m.tool_calls)) {
    if (!Array.isArray(m.tool_calls)) throw invalid(`${at}.tool_calls`, 'must be an array')
    m.tool_calls.forEach((call: unknown, k) => blocks.push(toolUse(call, `${at}.tool_calls[${k}]`)))
  }
  if (isSet(m.function_call)) throw unsupported(`${at}.function_call`, 'use tool_calls')
  if (isSet(m.audio)) throw unsupported(`${at}.audio`, 'Anthropic has no audio output')
  return blocks
}

function assistantText(content: unknown, at: string): string {
  if (typeof content === 'string') return content
  if (!Array.isArray(content)) throw invalid(at, 'must be a string or an array of parts')
  return content
    .map((part: unknown, j) => {
      if (isObject(part) && part.type === 'text' && typeof part.text === 'string') return part.text
      if (isObject(part) && part.type === 'refusal' && typeof part.refusal === 'string') return part.refusal
      throw unsupported(`${at}[${j}]`, 'only text parts are possible in an assistant message')
    })
    .join('')
}

function toolUse(call: unknown, at: string): JsonObject {
  if (!isObject(call) || call.type !== 'function' || !isObject(call.function)) throw invalid(at, 'must be a function tool call')
  const fn = call.function
  if (typeof call.id !== 'string' || typeof fn.name !== 'string') throw invalid(at, 'needs an id and a function name')
  let input: unknown = {}
  const args = fn.arguments
  if (typeof args === 'string' && args.trim() !== '') {
    try {
      input = JSON.parse(args)
    } catch {
      throw invalid(`${at}.function.arguments`, 'must be a JSON object')
    }
  }
  if (!isObject(input)) throw invalid(`${at}.function.arguments`, 'must be a JSON object')
  return { type: 'tool_use', id: call.id, name: fn.name, input }
}

/** Tools, tool_choice and response_format; returns the name of the tool that carries a JSON answer, if any. */
function translateTools(chat: JsonObject, body: JsonObject): string | null {
  const tools: JsonObject[] = []
  if (isSet(chat.tools)) {
    if (!Array.isArray(chat.tools)) throw invalid('tools', 'must be an array')
    chat.tools.forEach((t: unknown, i) => tools.push(toolDefinition(t, `tools[${i}]`)))
  }
  let choice = toolChoice(chat.tool_choice)
  const jsonTool = jsonAnswerTool(chat.response_format, tools.length > 0)
  if (jsonTool !== null) {
    tools.push(jsonTool)
    choice = { type: 'tool', name: jsonTool.name }
  }
  if (tools.length > 0) body.tools = tools
  if (chat.parallel_tool_calls === false && tools.length > 0) choice = { ...(choice ?? { type: 'auto' }), disable_parallel_tool_use: true }
  if (choice !== null && (tools.length > 0 || choice.type === 'none')) body.tool_choice = choice
  return jsonTool === null ? null : (jsonTool.name as string)
}

function toolDefinition(t: unknown, at: string): JsonObject {
  if (!isObject(t)) throw invalid(at, 'must be an object')
  if (t.type !== 'function') throw unsupported(`${at}.type`, 'only function tools can be sent to Anthropic')
  const fn = t.function
  if (!isObject(fn) || typeof fn.name !== 'string') throw invalid(`${at}.function.name`, 'is required')
  const out: JsonObject = { name: fn.name }
  if (typeof fn.description === 'string') out.description = fn.description
  out.input_schema = isObject(fn.parameters) ? fn.parameters : { type: 'object', properties: {} }
  return out
}

function toolChoice(choice: unknown): JsonObject | null {
  if (!isSet(choice)) return null
  if (choice === 'auto') return { type: 'auto' }
  if (choice === 'none') return { type: 'none' }
  if (choice === 'required') return { type: 'any' }
  if (isObject(choice) && choice.type === 'function' && isObject(choice.function) && typeof choice.function.name === 'string') {
    return { type: 'tool', name: choice.function.name }
  }
  throw invalid('tool_choice', 'must be auto, none, required or a function')
}

function jsonAnswerTool(format: unknown, hasTools: boolean): JsonObject | null {
  if (!isSet(format)) return null
  if (!isObject(format)) throw invalid('response_format', 'must be an object')
  if (format.type === 'text') return null
  // A forced tool would stop the model from calling the client's own tools.
  if (hasTools) throw unsupported('response_format', 'a JSON answer together with tools cannot be expressed for Anthropic')
  if (format.type === 'json_object') {
    return { name: JSON_OBJECT_TOOL, description: 'Answer with a JSON object.', input_schema: { type: 'object' } }
  }
  if (format.type === 'json_schema' && isObject(format.json_schema)) {
    const spec = format.json_schema
    const schema = isObject(spec.schema) ? spec.schema : { type: 'object' }
    if (schema.type !== 'object') throw unsupported('response_format.json_schema.schema', 'Anthropic can only be held to a schema whose root is an object')
    const name = typeof spec.name === 'string' && /^[a-zA-Z0-9_-]{1,64}$/.test(spec.name) ? spec.name : JSON_OBJECT_TOOL
    return { name, description: typeof spec.description === 'string' ? spec.description : 'Answer with JSON that matches this schema.', input_schema: schema }
  }
  throw invalid('response_format.type', 'must be text, json_object or json_schema')
}
