import { invalidRequest, Problem } from '../dialects/problem.js'
import { contentText, estimateTokens, isRecord } from '../generate/prompt.js'
import { fnv1a, type TokenSequence } from '../generate/text.js'
import { readMaxTokens, readModel } from './fields.js'
import type { ResponseStore } from './response-store.js'
import { checkResponses } from './strict.js'
import type { EndpointParser, ResponseMeta, StreamEncoder } from './types.js'

// POST /v1/responses, and the stored response's own routes. The answer is one message with one
// output_text part; a stream is the Responses API's named events, each with its sequence
// number, ending in response.completed, which carries the usage.

function inputItems(input: unknown): unknown[] {
  if (typeof input === 'string') return [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: input }] }]
  return Array.isArray(input) ? input : []
}

function inputText(input: unknown): string {
  if (typeof input === 'string') return input
  let out = ''
  for (const item of inputItems(input)) if (isRecord(item)) out += contentText(item.content) + (typeof item.output === 'string' ? item.output : '') + '\n'
  return out
}

export function parseResponses(store: ResponseStore): EndpointParser {
  return (body, _route, runtime) => {
    const strict = checkResponses(body)
    if (strict !== null) return strict
    const model = readModel(body)
    if (model instanceof Problem) return model
    const maxTokens = readMaxTokens(body, ['max_output_tokens'])
    if (maxTokens instanceof Problem) return maxTokens
    if (typeof body.previous_response_id === 'string' && store.get(body.previous_response_id) === undefined) {
      return new Problem(404, `Previous response with id '${body.previous_response_id}' not found.`, 'invalid_request_error', 'previous_response_not_found', 'not_found_error', 'previous_response_id')
    }
    const prompt = (typeof body.instructions === 'string' ? body.instructions : '') + inputText(body.input)
    const inputTokens = estimateTokens(prompt)
    const completionTokens = maxTokens ?? runtime.completionTokens
    const items = inputItems(body.input)
    const shape = { instructions: typeof body.instructions === 'string' ? body.instructions : null, max_output_tokens: maxTokens ?? null, previous_response_id: body.previous_response_id ?? null, store: body.store !== false }
    const save = (json: Record<string, unknown>): void => {
      if (shape.store) store.put(json.id as string, json, items)
    }
    return {
      model,
      stream: body.stream === true,
      tokenCost: inputTokens + completionTokens,
      completionTokens,
      seed: fnv1a(`${model}\n${prompt}`),
      render(meta, tokens) {
        const json = responseJson(meta, 'completed', tokens.joined(), inputTokens, tokens.count, shape)
        save(json)
        return JSON.stringify(json)
      },
      encoder: (meta, tokens) => responseStream(meta, tokens, inputTokens, shape, save),
    }
  }
}

function responseJson(meta: ResponseMeta, status: string, text: string | null, inputTokens: number, outputTokens: number, shape: Record<string, unknown>): Record<string, unknown> {
  const output = text === null ? [] : [messageItem(meta, 'completed', text)]
  return {
    id: `resp_sim${meta.id}`,
    object: 'response',
    created_at: meta.created,
    status,
    error: null,
    incomplete_details: null,
    model: meta.model,
    output,
    parallel_tool_calls: true,
    temperature: 1,
    top_p: 1,
    tool_choice: 'auto',
    tools: [],
    text: { format: { type: 'text' } },
    truncation: 'disabled',
    metadata: {},
    ...shape,
    usage: status === 'completed' ? { input_tokens: inputTokens, input_tokens_details: { cached_tokens: 0 }, output_tokens: outputTokens, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: inputTokens + outputTokens } : null,
  }
}

function messageItem(meta: ResponseMeta, status: string, text: string | null): Record<string, unknown> {
  return { type: 'message', id: `msg_sim${meta.id}`, status, role: 'assistant', content: text === null ? [] : [{ type: 'output_text', text, annotations: [] }] }
}

function responseStream(meta: ResponseMeta, tokens: TokenSequence, inputTokens: number, shape: Record<string, unknown>, save: (json: Record<string, unknown>) => void): StreamEncoder {
  let seq = 0
  const event = (type: string, fields: Record<string, unknown>): string => `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: seq++, ...fields })}\n\n`
  const itemId = `msg_sim${meta.id}`
  const where = `"item_id":"${itemId}","output_index":0,"content_index":0`
  return {
    preamble: () => [
      event('response.created', { response: responseJson(meta, 'in_progress', null, inputTokens, 0, shape) }),
      event('response.in_progress', { response: responseJson(meta, 'in_progress', null, inputTokens, 0, shape) }),
      event('response.output_item.added', { output_index: 0, item: messageItem(meta, 'in_progress', null) }),
      event('response.content_part.added', { item_id: itemId, output_index: 0, content_index: 0, part: { type: 'output_text', text: '', annotations: [] } }),
    ],
    token: (tokenJson) => `event: response.output_text.delta\ndata: {"type":"response.output_text.delta","sequence_number":${seq++},${where},"delta":${tokenJson},"logprobs":[]}\n\n`,
    epilogue() {
      const text = tokens.joined()
      const done = responseJson(meta, 'completed', text, inputTokens, tokens.count, shape)
      save(done)
      return [
        event('response.output_text.done', { item_id: itemId, output_index: 0, content_index: 0, text, logprobs: [] }),
        event('response.content_part.done', { item_id: itemId, output_index: 0, content_index: 0, part: { type: 'output_text', text, annotations: [] } }),
        event('response.output_item.done', { output_index: 0, item: messageItem(meta, 'completed', text) }),
        event('response.completed', { response: done }),
      ]
    },
  }
}

const notFound = (id: string): Problem => new Problem(404, `Response with id '${id}' not found.`, 'invalid_request_error', null, 'not_found_error', null)

const fixed = (model: string | null, json: string): ReturnType<EndpointParser> => ({ model, stream: false, tokenCost: 0, completionTokens: 0, seed: 0, render: () => json, encoder: () => null })

/** GET and DELETE /v1/responses/{id}, POST …/cancel, GET …/input_items. */
export function parseResponseObject(store: ResponseStore): EndpointParser {
  return (_body, route) => {
    const id = route.objectId ?? ''
    const found = store.get(id)
    if (found === undefined) return notFound(id)
    const model = typeof found.json.model === 'string' ? found.json.model : null
    switch (route.endpoint) {
      case 'response_cancel':
        // Only background responses can be cancelled; the simulator makes none.
        return invalidRequest('Only responses created with background=true can be cancelled.', null)
      case 'response_input_items': {
        const data = found.input.map((item, i) => (isRecord(item) ? { id: `msg_in${i}`, ...item } : item))
        return fixed(model, JSON.stringify({ object: 'list', data, first_id: data.length > 0 ? 'msg_in0' : null, last_id: data.length > 0 ? `msg_in${data.length - 1}` : null, has_more: false }))
      }
      default:
        if (route.method === 'DELETE') {
          store.delete(id)
          return fixed(model, JSON.stringify({ id, object: 'response', deleted: true }))
        }
        return fixed(model, JSON.stringify(found.json))
    }
  }
}
