import { SluiceError } from '../../errors.js'
import type { Endpoint } from '../../providers/types.js'

// Checks only what sluice itself relies on, plus the types a client most often gets wrong, so
// a bad request gets a 400 naming the field before any upstream call. Everything else is the
// upstream's to judge.

/** Longer names are no model anyone serves; capping them keeps error bodies and log lines small. */
const maxModelLength = 256

export interface CheckedBody {
  readonly json: Record<string, unknown>
  readonly model: string
  readonly stream: boolean
}

export function parseJsonBody(body: Buffer): Record<string, unknown> {
  if (body.length === 0) throw new SluiceError('invalid_json', ['the body is empty'])
  let value: unknown
  try {
    value = JSON.parse(body.toString('utf8'))
  } catch (err) {
    throw new SluiceError('invalid_json', [(err as Error).message])
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new SluiceError('invalid_json', ['the body must be a JSON object'])
  return value as Record<string, unknown>
}

function invalid(param: string, message: string): SluiceError {
  return new SluiceError('invalid_request_error', [message], { param })
}

function optionalPositiveInt(json: Record<string, unknown>, field: string): void {
  const v = json[field]
  if (v !== undefined && v !== null && !(Number.isInteger(v) && (v as number) > 0)) throw invalid(field, `\`${field}\` must be a positive integer`)
}

function optionalNumber(json: Record<string, unknown>, field: string): void {
  const v = json[field]
  if (v !== undefined && v !== null && (typeof v !== 'number' || !Number.isFinite(v))) throw invalid(field, `\`${field}\` must be a number`)
}

export function checkBody(endpoint: Endpoint, json: Record<string, unknown>): CheckedBody {
  const model = json.model
  if (model === undefined) throw invalid('model', 'you must provide a model parameter')
  if (typeof model !== 'string' || model.length === 0) throw invalid('model', '`model` must be a non-empty string')
  if (model.length > maxModelLength) throw invalid('model', `\`model\` is longer than ${maxModelLength} characters`)

  const stream = json.stream
  if (stream !== undefined && stream !== null && typeof stream !== 'boolean') throw invalid('stream', '`stream` must be a boolean')
  const streamOptions = json.stream_options
  if (streamOptions !== undefined && streamOptions !== null && (typeof streamOptions !== 'object' || Array.isArray(streamOptions))) {
    throw invalid('stream_options', '`stream_options` must be an object')
  }

  switch (endpoint) {
    case 'chat':
    case 'messages':
    case 'count_tokens': {
      const messages = json.messages
      if (!Array.isArray(messages)) throw invalid('messages', '`messages` must be an array of messages')
      if (messages.length === 0) throw invalid('messages', '`messages` must contain at least one message')
      for (let i = 0; i < messages.length; i++) {
        const m: unknown = messages[i]
        if (m === null || typeof m !== 'object' || Array.isArray(m)) throw invalid(`messages[${i}]`, 'each message must be an object')
        if (typeof (m as { role?: unknown }).role !== 'string') throw invalid(`messages[${i}].role`, '`role` must be a string')
      }
      optionalPositiveInt(json, 'max_tokens')
      optionalPositiveInt(json, 'max_completion_tokens')
      optionalPositiveInt(json, 'n')
      optionalNumber(json, 'temperature')
      optionalNumber(json, 'top_p')
      if (endpoint === 'messages' && (json.max_tokens === undefined || json.max_tokens === null)) throw invalid('max_tokens', '`max_tokens` is required')
      break
    }
    case 'completions': {
      const prompt = json.prompt
      if (prompt === undefined) throw invalid('prompt', 'you must provide a prompt')
      if (typeof prompt !== 'string' && !Array.isArray(prompt)) throw invalid('prompt', '`prompt` must be a string or an array')
      optionalPositiveInt(json, 'max_tokens')
      optionalPositiveInt(json, 'n')
      optionalNumber(json, 'temperature')
      break
    }
    case 'responses': {
      const input = json.input
      if (input === undefined) throw invalid('input', 'you must provide an input')
      if (typeof input !== 'string' && !Array.isArray(input)) throw invalid('input', '`input` must be a string or an array of input items')
      optionalPositiveInt(json, 'max_output_tokens')
      optionalNumber(json, 'temperature')
      optionalNumber(json, 'top_p')
      break
    }
    case 'embeddings': {
      const input = json.input
      if (input === undefined) throw invalid('input', 'you must provide an input')
      if (typeof input !== 'string' && !Array.isArray(input)) throw invalid('input', '`input` must be a string or an array')
      if (Array.isArray(input) && input.length === 0) throw invalid('input', '`input` must not be empty')
      if (json.stream === true) throw invalid('stream', 'embeddings cannot be streamed')
      optionalPositiveInt(json, 'dimensions')
      break
    }
  }
  return { json, model, stream: stream === true }
}
