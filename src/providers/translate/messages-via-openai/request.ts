import { SluiceError } from '../../../errors.js'
import { isObject, isSet, type JsonObject } from '../json.js'

// An Anthropic Messages request, rewritten for an OpenAI-compatible chat completions API.
// What has an exact counterpart is carried over; what does not is refused with a 400 naming
// the field, before any upstream call.

export interface MessagesToChatOptions {
  readonly upstreamModel: string
}

export interface MessagesTranslation {
  readonly body: JsonObject
  readonly stream: boolean
}

const OPENAI = 'OpenAI chat completions'

const handled = new Set(['model', 'messages', 'system', 'max_tokens', 'temperature', 'top_p', 'stop_sequences', 'stream', 'tools', 'tool_choice', 'metadata', 'service_tier', 'thinking'])

function unsupported(param: string, why: string): SluiceError {
  return new SluiceError('unsupported_parameter', [param, OPENAI, why], { param })
}

function invalid(param: string, why: string): SluiceError {
  return new SluiceError('invalid_request_error', [`${param}: ${why}`], { param })
}

export function messagesToChat(req: JsonObject, opts: MessagesToChatOptions): MessagesTranslation {
  for (const name of Object.keys(req)) {
    if (!handled.has(name) && isSet(req[name])) throw unsupported(name, 'OpenAI has no such parameter')
  }
  if (isObject(req.thinking) && req.thinking.type !== 'disabled') throw unsupported('thinking', 'extended thinking cannot be asked of an OpenAI model')
  const body: JsonObject = { model: opts.upstreamModel }
  const messages: JsonObject[] = []
  if (isSet(req.system)) messages.push({ role: 'system', content: systemText(req.system) })
  if (!Array.isArray(req.messages) || req.messages.length === 0) throw invalid('messages', 'must be a non-empty array')
  req.messages.forEach((m: unknown, i) => translateTurn(m, `messages[${i}]`, messages))
  body.messages = messages
  const max = req.max_tokens
  if (typeof max !== 'number' || !Number.isInteger(max) || max < 1) throw invalid('max_tokens', 'Field required: a positive integer')
  body.max_tokens = max
  if (isSet(req.temperature)) {
    if (typeof req.temperature !== 'number' || req.temperature < 0 || req.temperature > 1) throw invalid('temperature', 'must be a number from 0 to 1')
    body.temperature = req.temperature
  }
  if (isSet(req.top_p)) {
    if (typeof req.top_p !== 'number' || req.top_p < 0 || req.top_p > 1) throw invalid('top_p', 'must be a number from 0 to 1')
    body.top_p = req.top_p
  }
  if (isSet(req.stop_sequences)) {
    if (!Array.isArray(req.stop_sequences) || !req.stop_sequences.every((s) => typeof s === 'string')) throw invalid('stop_sequences', 'must be an array of strings')
    // OpenAI takes at most four.
    if (req.stop_sequences.length > 4) throw unsupported('stop_sequences', 'OpenAI takes at most 4 stop sequences')
    if (req.stop_sequences.length > 0) body.stop = req.stop_sequences
  }
  if (isObject(req.metadata) && typeof req.metadata.user_id === 'string') body.user = req.metadata.user_id
  translateTools(req, body)
  const stream = req.stream === true
  // Anthropic streams always report usage; OpenAI's only when asked.
  if (stream) {
    body.stream = true
    body.stream_options = { include_usage: true }
  }
  return { body, stream }
}

function systemText(system: unknown): string {
  if (typeof system === 'string') return system
  if (!Array.isArray(system)) throw invalid('system', 'must be a string or an array of text blocks')
  return system
    .map((b: unknown, i) => {
      if (!isObject(b) || b.type !== 'text' || typeof b.text !== 'string') throw invalid(`system[${i}]`, 'must be a text block')
      return b.text
    })
    .join('\n\n')
}

function translateTurn(m: unknown, at: string, out: JsonObject[]): void {
  if (!isObject(m)) throw invalid(at, 'must be an object')
  if (m.role !== 'user' && m.role !== 'assistant') throw invalid(`${at}.role`, 'must be user or assistant')
  if (typeof m.content === 'string') {
    out.push({ role: m.role, content: m.content })
    return
  }
  if (!Array.isArray(m.content)) throw invalid(`${at}.content`, 'must be a string or an array of content blocks')
  if (m.role === 'assistant') out.push(assistantMessage(m.content, `${at}.content`))
  else userMessages(m.content, `${at}.content`, out)
}

function assistantMessage(blocks: unknown[], at: string): JsonObject {
  let text = ''
  const calls: JsonObject[] = []
  blocks.forEach((b: unknown, j) => {
    const here = `${at}[${j}]`
    if (!isObject(b)) throw invalid(here, 'must be an object')
    if (b.type === 'text' && typeof b.text === 'string') text += b.text
    else if (b.type === 'tool_use') {
      if (typeof b.id !== 'string' || typeof b.name !== 'string') throw invalid(here, 'a tool_use block needs an id and a name')
      calls.push({ id: b.id, type: 'function', function: { name: b.name, arguments: JSON.stringify(b.input ?? {}) } })
    } else if (b.type === 'thinking' || b.type === 'redacted_thinking') {
      // A previous turn's reasoning: OpenAI chat has nowhere to put it, and it is not needed to continue.
    } else throw unsupported(`${here}.type`, `blocks of type ${JSON.stringify(b.type)} cannot be sent to an OpenAI model`)
  })
  const msg: JsonObject = { role: 'assistant', content: text === '' && calls.length > 0 ? null : text }
  if (calls.length > 0) msg.tool_calls = calls
  return msg
}

/** Tool results become tool messages, which OpenAI wants right after the assistant's calls; the rest stays one user message. */
function userMessages(blocks: unknown[], at: string, out: JsonObject[]): void {
  const parts: JsonObject[] = []
  blocks.forEach((b: unknown, j) => {
    const here = `${at}[${j}]`
    if (!isObject(b)) throw invalid(here, 'must be an object')
    if (b.type === 'text') {
      if (typeof b.text !== 'string') throw invalid(`${here}.text`, 'must be a string')
      parts.push({ type: 'text', text: b.text })
    } else if (b.type === 'image') parts.push(imagePart(b.source, `${here}.source`))
    else if (b.type === 'tool_result') {
      if (typeof b.tool_use_id !== 'string') throw invalid(`${here}.tool_use_id`, 'is required')
      if (b.is_error === true) out.push({ role: 'tool', tool_call_id: b.tool_use_id, content: `Error: ${toolResultText(b.content, `${here}.content`)}` })
      else out.push({ role: 'tool', tool_call_id: b.tool_use_id, content: toolResultText(b.content, `${here}.content`) })
    } else throw unsupported(`${here}.type`, `blocks of type ${JSON.stringify(b.type)} cannot be sent to an OpenAI model`)
  })
  if (parts.length === 0) return
  // A user turn of plain text stays a plain string, which every OpenAI-compatible server takes.
  out.push({ role: 'user', content: parts.every((p) => p.type === 'text') ? parts.map((p) => p.text as string).join('') : parts })
}

function imagePart(source: unknown, at: string): JsonObject {
  if (!isObject(source)) throw invalid(at, 'must be an object')
  if (source.type === 'base64' && typeof source.media_type === 'string' && typeof source.data === 'string') {
    return { type: 'image_url', image_url: { url: `data:${source.media_type};base64,${source.data}` } }
  }
  if (source.type === 'url' && typeof source.url === 'string') return { type: 'image_url', image_url: { url: source.url } }
  throw unsupported(`${at}.type`, 'only base64 and URL images can be sent to an OpenAI model')
}

function toolResultText(content: unknown, at: string): string {
  if (content === undefined || content === null) return ''
  if (typeof content === 'string') return content
  if (!Array.isArray(content)) throw invalid(at, 'must be a string or an array of text blocks')
  return content
    .map((b: unknown, k) => {
      if (isObject(b) && b.type === 'text' && typeof b.text === 'string') return b.text
      throw unsupported(`${at}[${k}]`, 'an OpenAI tool message holds text only')
    })
    .join('')
}

function translateTools(req: JsonObject, body: JsonObject): void {
  if (isSet(req.tools)) {
    if (!Array.isArray(req.tools)) throw invalid('tools', 'must be an array')
    body.tools = req.tools.map((t: unknown, i) => {
      const at = `tools[${i}]`
      if (!isObject(t)) throw invalid(at, 'must be an object')
      if (t.type !== undefined && t.type !== 'custom') throw unsupported(`${at}.type`, `server tools (${String(t.type)}) run on Anthropic only`)
      if (typeof t.name !== 'string') throw invalid(`${at}.name`, 'is required')
      const fn: JsonObject = { name: t.name }
      if (typeof t.description === 'string') fn.description = t.description
      fn.parameters = isObject(t.input_schema) ? t.input_schema : { type: 'object', properties: {} }
      return { type: 'function', function: fn }
    })
  }
  if (!isSet(req.tool_choice)) return
  const c = req.tool_choice
  if (!isObject(c)) throw invalid('tool_choice', 'must be an object')
  if (c.type === 'auto') body.tool_choice = 'auto'
  else if (c.type === 'any') body.tool_choice = 'required'
  else if (c.type === 'none') body.tool_choice = 'none'
  else if (c.type === 'tool' && typeof c.name === 'string') body.tool_choice = { type: 'function', function: { name: c.name } }
  else throw invalid('tool_choice.type', 'must be auto, any, tool or none')
  if (c.disable_parallel_tool_use === true && isSet(body.tools)) body.parallel_tool_calls = false
}
