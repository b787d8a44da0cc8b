import { isRecord } from './prompt.js'

// A request that offers tools gets a call to one of them, unless it already carries the tool's
// result (then it gets text, as a model continuing the conversation would). The arguments fill
// the schema's required properties with fixed values, so tests can round-trip them.

export interface PlannedCall {
  readonly name: string
  /** The arguments as JSON text. */
  readonly args: string
}

function toolName(tool: unknown): string | null {
  if (!isRecord(tool)) return null
  if (isRecord(tool.function) && typeof tool.function.name === 'string') return tool.function.name
  return typeof tool.name === 'string' ? tool.name : null
}

function schemaOf(tool: unknown): unknown {
  if (!isRecord(tool)) return null
  return isRecord(tool.function) ? tool.function.parameters : tool.input_schema
}

function sampleArgs(schema: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  if (!isRecord(schema) || !isRecord(schema.properties)) return out
  const required = Array.isArray(schema.required) ? schema.required : []
  for (const name of required) {
    if (typeof name !== 'string') continue
    const prop = schema.properties[name]
    const type = isRecord(prop) ? prop.type : undefined
    out[name] = type === 'number' || type === 'integer' ? 1 : type === 'boolean' ? true : 'sim'
  }
  return out
}

/** The call to make, or null for a text answer. `forced` is the tool the request requires by name, if any. */
export function plannedToolCall(tools: unknown, forced: string | null, none: boolean, answersToolResult: boolean): PlannedCall | null {
  if (!Array.isArray(tools) || tools.length === 0 || none || answersToolResult) return null
  const tool = (forced === null ? tools[0] : tools.find((t) => toolName(t) === forced)) as unknown
  const name = toolName(tool)
  if (name === null) return null
  return { name, args: JSON.stringify(sampleArgs(schemaOf(tool))) }
}

/** The arguments in short pieces, as a streaming model sends them. */
export function argumentPieces(args: string): string[] {
  const pieces: string[] = []
  for (let i = 0; i < args.length; i += 4) pieces.push(args.slice(i, i + 4))
  return pieces.length === 0 ? [''] : pieces
}
