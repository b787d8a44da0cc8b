import { readFileSync } from 'node:fs'
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, visit, type Document } from 'yaml'
import type { z } from 'zod'
import { SluiceConfig, type SluiceConfigParsed } from './schema.js'

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
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new ConfigError(file, [{ path: '', line: null, message: `cannot read file: ${(err as Error).message}` }])
  }
  return parseConfigText(text, file, env)
}

/**
 * YAML → ${ENV} interpolation → schema. Interpolation happens on parsed scalars, not on the
 * raw text, so a variable's value can never inject YAML structure and line numbers stay true.
 */
export function parseConfigText(text: string, file = 'sluice.yaml', env: NodeJS.ProcessEnv = process.env): SluiceConfigParsed {
  const lines = new LineCounter()
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true })
  const lineOf = (offset: number | undefined): number | null => (offset === undefined ? null : lines.linePos(offset).line)

  if (doc.errors.length > 0) {
    throw new ConfigError(file, doc.errors.map((e) => ({ path: '', line: lineOf(e.pos[0]), message: e.message.split('\n')[0] ?? e.message })))
  }

  const issues: ConfigIssue[] = []
  visit(doc, {
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
  if (issues.length > 0) throw new ConfigError(file, issues)

  const result = SluiceConfig.safeParse(doc.toJS() ?? {})
  if (result.success) return result.data
  throw new ConfigError(file, result.error.issues.map((i) => toIssue(i, doc, lineOf)))
}

function toIssue(issue: z.core.$ZodIssue, doc: Document, lineOf: (offset: number | undefined) => number | null): ConfigIssue {
  const path = issue.path.map(String)
  // Point at the deepest node that exists: a missing field is reported on its parent's line.
  let line: number | null = null
  for (let depth = path.length; depth >= 0 && line === null; depth--) {
    const node = doc.getIn(path.slice(0, depth), true)
    if (node && typeof node === 'object' && 'range' in node) line = lineOf((node as { range?: [number, number, number] }).range?.[0])
  }
  let message = issue.message
  if (issue.code === 'unrecognized_keys') {
    message = `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`
    // Point at the first unknown key itself rather than at the block holding it.
    const parent = doc.getIn(path, true)
    if (isMap(parent)) {
      const pair = parent.items.find((p) => isScalar(p.key) && String(p.key.value) === issue.keys[0])
      if (pair && isScalar(pair.key)) line = lineOf(pair.key.range?.[0])
    }
  }
  return { path: formatPath(path), line, message }
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
