import { readFileSync } from 'node:fs'
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, visit, type Document } from 'yaml'
import type { z } from 'zod'
import { referenceIssues } from './references.js'
import { KeysCommandConfig, SluiceConfig, type KeysCommandConfigParsed, type SluiceConfigParsed } from './schema.js'

/** One problem in a config file, located by its path in the document and its line. */
export interface ConfigIssue {
  readonly path: string
  readonly line: number | null
  readonly message: string
}

export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly issues: readonly ConfigIssue[],
  ) {
    super(`${file}: invalid configuration\n` + issues.map((i) => `  ${describe(file, i)}`).join('\n'))
    this.name = 'ConfigError'
  }
}

function describe(file: string, issue: ConfigIssue): string {
  const where = issue.line === null ? file : `${file}:${issue.line}`
  return `${where} ${issue.path ? issue.path + ': ' : ''}${issue.message}`
}

const envReference = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g

export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): SluiceConfigParsed {
  return parseConfigText(readConfigFile(file), file, env)
}

/**
 * What `sluice keys …` needs from a config file: the database and the tiers. Only those two
 * sections are interpolated and checked, so the command runs without any provider secret in
 * the environment and despite mistakes elsewhere in the file.
 */
export function loadKeysCommandConfig(file: string, env: NodeJS.ProcessEnv = process.env): KeysCommandConfigParsed {
  const text = readConfigFile(file)
  const { doc, lineOf } = parseYaml(text, file)
  const issues = interpolate(doc, env, lineOf, ['database', 'tiers', 'state'])
  const result = KeysCommandConfig.safeParse(doc.toJS() ?? {}, { error: plainWording })
  if (result.success && issues.length === 0) return result.data
  throw new ConfigError(file, merge(issues, result.success ? [] : result.error.issues.map((i) => toIssue(i, doc, lineOf))))
}

function readConfigFile(file: string): string {
  try {
    return readFileSync(file, 'utf8')
  } catch (err) {
    throw new ConfigError(file, [{ path: '', line: null, message: `cannot read file: ${(err as Error).message}` }])
  }
}

/**
 * YAML → ${ENV} interpolation → schema. Interpolation happens on parsed scalars, not on the
 * raw text, so a variable's value can never inject YAML structure and line numbers stay true.
 * Every problem is reported in one run: unset variables, schema errors and cross-references
 * (an unknown provider) together, so fixing a file takes one round, not one per kind.
 */
export function parseConfigText(text: string, file = 'sluice.yaml', env: NodeJS.ProcessEnv = process.env): SluiceConfigParsed {
  const { doc, lineOf } = parseYaml(text, file)
  const unset = interpolate(doc, env, lineOf)
  const value: unknown = doc.toJS() ?? {}
  const result = SluiceConfig.safeParse(value, { error: plainWording })
  if (result.success && unset.length === 0) return result.data
  const schemaIssues = result.success ? [] : result.error.issues.map((i) => toIssue(i, doc, lineOf))
  throw new ConfigError(file, merge(unset, schemaIssues, result.success ? [] : crossReferenceIssues(value, (path) => lineOfPath(doc, path, lineOf))))
}

/** The same checks as parseConfigText for a config given as a value (the demo, tests): paths, no lines. */
export function parseConfigValue(value: unknown, label: string): SluiceConfigParsed {
  const result = SluiceConfig.safeParse(value, { error: plainWording })
  if (result.success) return result.data
  const issues = result.error.issues.map((i) => ({ path: formatPath(i.path.map(String)), line: null, message: messageOf(i, () => pathExists(value, i.path)) }))
  throw new ConfigError(label, merge([], issues, crossReferenceIssues(value, () => null)))
}

function parseYaml(text: string, file: string): { doc: Document; lineOf: (offset: number | undefined) => number | null } {
  const lines = new LineCounter()
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true })
  const lineOf = (offset: number | undefined): number | null => (offset === undefined ? null : lines.linePos(offset).line)
  if (doc.errors.length > 0) {
    throw new ConfigError(file, doc.errors.map((e) => ({ path: '', line: lineOf(e.pos[0]), message: e.message.split('\n')[0] ?? e.message })))
  }
  return { doc, lineOf }
}

/** Replaces ${VAR} in every string scalar (under `only`'s top-level sections, when given); returns the unset ones. */
function interpolate(doc: Document, env: NodeJS.ProcessEnv, lineOf: (offset: number | undefined) => number | null, only?: readonly string[]): ConfigIssue[] {
  const issues: ConfigIssue[] = []
  visit(doc, {
    Pair(_key, pair, path) {
      // Skip whole top-level sections the caller does not read.
      if (only !== undefined && path.length === 2 && isScalar(pair.key) && !only.includes(String(pair.key.value))) return visit.SKIP
      return undefined
    },
    Scalar(_key, node, path) {
      if (typeof node.value !== 'string' || !node.value.includes('${')) return
      node.value = node.value.replace(envReference, (_m, name: string, fallback: string | undefined) => {
        const value = env[name]
        if (value !== undefined && value !== '') return value
        if (fallback !== undefined) return fallback
        issues.push({ path: pathOf(path, node), line: lineOf(node.range?.[0]), message: `environment variable ${name} is not set` })
        return ''
      })
    },
  })
  return issues
}

/**
 * Cross-references (an unknown provider, a fallback to nothing) are a refinement of the whole
 * config, which zod runs only once every field is valid. When some field is not, they are checked
 * here on the raw value, so they are reported in the same run as the field errors.
 */
function crossReferenceIssues(value: unknown, lineOfPath: (path: readonly string[]) => number | null): ConfigIssue[] {
  return referenceIssues(value).map((i) => {
    const path = i.path.map(String)
    return { path: formatPath(path), line: lineOfPath(path), message: i.message }
  })
}

/**
 * Every problem once, in file order. A field whose variable is unset also fails the schema
 * (an empty key): only the variable is reported, as that is what to fix.
 */
function merge(unset: readonly ConfigIssue[], ...rest: (readonly ConfigIssue[])[]): ConfigIssue[] {
  const seen = new Set<string>()
  const out: ConfigIssue[] = []
  for (const issue of [...unset, ...rest.flat()]) {
    const id = `${issue.path}\0${issue.message}`
    if (seen.has(id) || (!unset.includes(issue) && unset.some((u) => within(issue.path, u.path)))) continue
    seen.add(id)
    out.push(issue)
  }
  return out.sort((a, b) => (a.line ?? Number.MAX_SAFE_INTEGER) - (b.line ?? Number.MAX_SAFE_INTEGER))
}

function within(path: string, parent: string): boolean {
  return path === parent || path.startsWith(`${parent}.`) || path.startsWith(`${parent}[`)
}

function toIssue(issue: z.core.$ZodIssue, doc: Document, lineOf: (offset: number | undefined) => number | null): ConfigIssue {
  const path = issue.path.map(String)
  let line = lineOfPath(doc, path, lineOf)
  let message = messageOf(issue, () => doc.hasIn(path))
  if (issue.code === 'unrecognized_keys') {
    // Point at the first unknown key itself rather than at the block holding it.
    const parent = doc.getIn(path, true)
    if (isMap(parent)) {
      const pair = parent.items.find((p) => isScalar(p.key) && String(p.key.value) === issue.keys[0])
      if (pair && isScalar(pair.key)) line = lineOf(pair.key.range?.[0])
    }
    message = `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`
  }
  return { path: formatPath(path), line, message }
}

/**
 * zod's own wording for a missing field ("Invalid input: expected string, received undefined")
 * says what was expected, not that the field is absent. Fields with a message of their own (a
 * missing `key`) keep it: a schema's message wins over plainWording.
 */
function messageOf(issue: z.core.$ZodIssue, exists: () => boolean): string {
  if (issue.message === missingField && !exists()) return `required field "${String(issue.path[issue.path.length - 1])}" is missing`
  return issue.message
}

/** plainWording's message for an absent value; messageOf names the field, as only it knows the path. */
const missingField = 'required field is missing'


/**
 * zod's default wording ("Too small: expected number to be >0", "Invalid option: expected one
 * of …") in the words of a config file. Fields with a message of their own keep it.
 */
function plainWording(issue: z.core.$ZodRawIssue): string | undefined {
  if (issue.input === undefined && (issue.code === 'invalid_type' || issue.code === 'invalid_value')) return missingField
  switch (issue.code) {
    case 'invalid_type':
      return `must be ${issue.expected === 'int' ? 'a whole number' : article(issue.expected)} (got ${shown(issue.input)})`
    case 'invalid_value':
      return `must be ${issue.values.length === 1 ? JSON.stringify(issue.values[0]) : `one of ${issue.values.map(String).join(', ')}`} (got ${shown(issue.input)})`
    case 'too_small':
    case 'too_big': {
      const bound = issue.code === 'too_small' ? issue.minimum : issue.maximum
      if (issue.origin === 'number' || issue.origin === 'int') {
        const relation = issue.code === 'too_small' ? (issue.inclusive ? 'at least' : 'greater than') : issue.inclusive ? 'at most' : 'less than'
        return `must be ${relation} ${String(bound)} (got ${shown(issue.input)})`
      }
      if (issue.origin === 'string' && issue.code === 'too_small' && Number(bound) === 1) return 'must not be empty'
      const unit = issue.origin === 'string' ? 'characters' : 'items'
      return `needs ${issue.code === 'too_small' ? 'at least' : 'at most'} ${String(bound)} ${unit}`
    }
    default:
      return undefined
  }
}

/** A type as a YAML file shows it: a map, a list, a string. */
function article(type: string): string {
  if (type === 'object' || type === 'record' || type === 'map') return 'a map'
  if (type === 'array') return 'a list'
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`
}

function shown(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'a list'
  if (typeof value === 'object') return 'a map'
  if (typeof value === 'string') return JSON.stringify(value)
  return String(value)
}

/** The line of the deepest node on the path that exists: a missing field is reported on its parent's line. */
function lineOfPath(doc: Document, path: readonly string[], lineOf: (offset: number | undefined) => number | null): number | null {
  for (let depth = path.length; depth >= 0; depth--) {
    const node = doc.getIn(path.slice(0, depth), true)
    if (node && typeof node === 'object' && 'range' in node) {
      const line = lineOf((node as { range?: [number, number, number] }).range?.[0])
      if (line !== null) return line
    }
  }
  return null
}

function pathExists(value: unknown, path: readonly PropertyKey[]): boolean {
  let node = value
  for (const step of path) {
    if (typeof node !== 'object' || node === null || !Object.hasOwn(node, step)) return false
    node = (node as Record<PropertyKey, unknown>)[step]
  }
  return true
}

function formatPath(path: readonly string[]): string {
  return path.map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : i === 0 ? p : `.${p}`)).join('')
}

function pathOf(path: readonly unknown[], node: unknown): string {
  const keys: string[] = []
  path.forEach((step, i) => {
    if (isPair(step)) keys.push(String(isScalar(step.key) ? step.key.value : step.key))
    else if (isSeq(step)) keys.push(String(step.items.indexOf((path[i + 1] ?? node) as never)))
  })
  return formatPath(keys)
}

