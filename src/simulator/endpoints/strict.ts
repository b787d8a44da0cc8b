import { invalidRequest, type Problem } from '../dialects/problem.js'
import { isRecord } from '../generate/prompt.js'

// The real APIs refuse a request in the other dialect's shape, each in its own words, so a
// gateway's translation mistake fails a test here instead of passing unnoticed.

const openAiChatFields = new Set([
  'model', 'messages', 'audio', 'frequency_penalty', 'function_call', 'functions', 'logit_bias', 'logprobs', 'max_completion_tokens', 'max_tokens',
  'metadata', 'modalities', 'n', 'parallel_tool_calls', 'prediction', 'presence_penalty', 'prompt_cache_key', 'reasoning_effort', 'response_format',
  'safety_identifier', 'seed', 'service_tier', 'stop', 'store', 'stream', 'stream_options', 'temperature', 'tool_choice', 'tools', 'top_logprobs',
  'top_p', 'user', 'verbosity', 'web_search_options',
])
const openAiRoles = new Set(['system', 'developer', 'user', 'assistant', 'tool', 'function'])
const openAiPartTypes = new Set(['text', 'image_url', 'input_audio', 'file', 'refusal'])

/** OpenAI: "Unrecognized request argument supplied: X", and content in its own part types. */
export function checkOpenAiChat(body: Record<string, unknown>): Problem | null {
  for (const name of Object.keys(body)) if (!openAiChatFields.has(name)) return invalidRequest(`Unrecognized request argument supplied: ${name}`, name)
  const messages = Array.isArray(body.messages) ? body.messages : []
  for (let i = 0; i < messages.length; i++) {
    const m: unknown = messages[i]
    if (!isRecord(m) || !openAiRoles.has(m.role as string)) return invalidRequest(`Invalid value: '${String(isRecord(m) ? m.role : m)}'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'.`, `messages[${i}].role`)
    if (Array.isArray(m.content)) {
      for (let j = 0; j < m.content.length; j++) {
        const part: unknown = m.content[j]
        if (!isRecord(part) || !openAiPartTypes.has(part.type as string)) return invalidRequest(`Invalid value: '${String(isRecord(part) ? part.type : part)}'. Supported values are: 'text', 'image_url', 'input_audio', 'refusal', and 'file'.`, `messages[${i}].content[${j}].type`)
      }
    }
    if (m.role === 'tool' && typeof m.tool_call_id !== 'string') return invalidRequest("Missing required parameter: 'messages[" + i + "].tool_call_id'.", `messages[${i}].tool_call_id`)
  }
  const tools = Array.isArray(body.tools) ? body.tools : []
  for (let i = 0; i < tools.length; i++) {
    const t: unknown = tools[i]
    if (!isRecord(t) || t.type !== 'function' || !isRecord(t.function) || typeof t.function.name !== 'string') return invalidRequest(`Missing required parameter: 'tools[${i}].function'.`, `tools[${i}].function`)
  }
  return null
}

const anthropicFields = new Set([
  'model', 'messages', 'max_tokens', 'system', 'metadata', 'stop_sequences', 'stream', 'temperature', 'top_p', 'top_k', 'tools', 'tool_choice',
  'thinking', 'service_tier', 'container', 'mcp_servers', 'context_management',
])
const anthropicBlockTypes = new Set(['text', 'image', 'document', 'tool_use', 'tool_result', 'thinking', 'redacted_thinking', 'search_result', 'server_tool_use', 'web_search_tool_result', 'container_upload'])

/** Anthropic: "field: Extra inputs are not permitted", user/assistant turns only, its own block types. */
export function checkAnthropicMessages(body: Record<string, unknown>, fields: ReadonlySet<string> = anthropicFields): Problem | null {
  for (const name of Object.keys(body)) if (!fields.has(name)) return invalidRequest(`${name}: Extra inputs are not permitted`, name)
  const messages = Array.isArray(body.messages) ? body.messages : []
  for (let i = 0; i < messages.length; i++) {
    const m: unknown = messages[i]
    if (!isRecord(m) || (m.role !== 'user' && m.role !== 'assistant')) return invalidRequest(`messages.${i}.role: Input should be 'user' or 'assistant'`, `messages.${i}.role`)
    if (typeof m.content !== 'string' && !Array.isArray(m.content)) return invalidRequest(`messages.${i}.content: Input should be a valid list`, `messages.${i}.content`)
    if (Array.isArray(m.content)) {
      for (let j = 0; j < m.content.length; j++) {
        const b: unknown = m.content[j]
        if (!isRecord(b) || !anthropicBlockTypes.has(b.type as string)) return invalidRequest(`messages.${i}.content.${j}: Input tag '${String(isRecord(b) ? b.type : b)}' found using 'type' does not match any of the expected tags`, `messages.${i}.content.${j}.type`)
      }
    }
  }
  const tools = Array.isArray(body.tools) ? body.tools : []
  for (let i = 0; i < tools.length; i++) {
    const t: unknown = tools[i]
    const custom = isRecord(t) && (t.type === undefined || t.type === 'custom')
    // Server tools are versioned by date (web_search_20250305); anything else is no Anthropic tool.
    if (!custom && !(isRecord(t) && typeof t.type === 'string' && /_\d{8}$/.test(t.type))) return invalidRequest(`tools.${i}: Input tag '${String(isRecord(t) ? t.type : t)}' found using 'type' does not match any of the expected tags`, `tools.${i}.type`)
    if (custom && (typeof t.name !== 'string' || !isRecord(t.input_schema))) return invalidRequest(`tools.${i}.input_schema: Field required`, `tools.${i}.input_schema`)
  }
  if (isRecord(body.tool_choice) && !['auto', 'any', 'tool', 'none'].includes(body.tool_choice.type as string)) return invalidRequest("tool_choice.type: Input tag does not match any of the expected tags: 'auto', 'any', 'tool', 'none'", 'tool_choice.type')
  if (body.tool_choice !== undefined && !isRecord(body.tool_choice)) return invalidRequest('tool_choice: Input should be a valid dictionary', 'tool_choice')
  return null
}

export const countTokensFields: ReadonlySet<string> = new Set(['model', 'messages', 'system', 'tools', 'tool_choice', 'thinking', 'mcp_servers', 'context_management'])

const responsesFields = new Set([
  'model', 'input', 'instructions', 'max_output_tokens', 'stream', 'stream_options', 'tools', 'tool_choice', 'parallel_tool_calls', 'previous_response_id',
  'store', 'temperature', 'top_p', 'metadata', 'text', 'reasoning', 'truncation', 'user', 'include', 'background', 'service_tier', 'prompt_cache_key',
  'safety_identifier', 'max_tool_calls', 'top_logprobs', 'conversation', 'prompt',
])

/** The Responses API takes `input`, not `messages`, and refuses what it does not know. */
export function checkResponses(body: Record<string, unknown>): Problem | null {
  for (const name of Object.keys(body)) if (!responsesFields.has(name)) return invalidRequest(`Unknown parameter: '${name}'.`, name)
  if (typeof body.input !== 'string' && !Array.isArray(body.input)) return invalidRequest("Missing required parameter: 'input'.", 'input')
  return null
}
