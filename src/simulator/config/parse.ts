import { LineCounter, parseDocument } from 'yaml'
import type { z } from 'zod'
import type { ScriptedFault, SimulatorConfigInput } from '../types.js'
import { scriptSchema, simulatorConfigSchema } from './schema.js'

export class SimulatorConfigError extends Error {
  override readonly name = 'SimulatorConfigError'
}

/** Where in the source a config path lives, when the source is YAML text. */
type Locate = (path: readonly PropertyKey[]) => string

/** Parses and validates a simulator YAML file; errors name the path and line of each problem. */
export function parseSimulatorConfig(yamlText: string): SimulatorConfigInput {
  const lineCounter = new LineCounter()
  const doc = parseDocument(yamlText, { lineCounter })
  const first = doc.errors[0]
  if (first !== undefined) throw new SimulatorConfigError(`simulator config: ${first.message}`)
  const locate: Locate = (path) => {
    const node: unknown = doc.getIn(path, true)
    const offset = hasRange(node) ? node.range[0] : undefined
    return offset === undefined ? '' : ` (line ${lineCounter.linePos(offset).line})`
  }
  return validate(simulatorConfigSchema, doc.toJS() ?? {}, 'simulator config', locate)
}

/** Validates a config patch arriving as a value (the in-process API or POST /__sim/config). */
export function validateConfigPatch(value: unknown): SimulatorConfigInput {
  return validate(simulatorConfigSchema, value, 'simulator config', () => '')
}

export function validateScript(value: unknown): ScriptedFault[] {
  return validate(scriptSchema, value, 'simulator script', () => '')
}

function validate<T>(schema: z.ZodType<T>, value: unknown, what: string, locate: Locate): T {
  const result = schema.safeParse(value)
  if (result.success) return result.data
  const lines = result.error.issues.map((issue) => {
    const path = issue.path.length === 0 ? '(root)' : issue.path.map(String).join('.')
    return `${what}: ${path}${locate(issue.path)}: ${issue.message}`
  })
  throw new SimulatorConfigError(lines.join('\n'))
}

function hasRange(node: unknown): node is { range: [number, number, number] } {
  return typeof node === 'object' && node !== null && 'range' in node && Array.isArray(node.range)
}
