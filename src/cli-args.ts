import { parseArgs, type ParseArgsConfig } from 'node:util'

type ParseArgsOptionsConfig = NonNullable<ParseArgsConfig['options']>

/**
 * A mistake in how a command was called. The CLI prints its one-line message and the
 * command's usage, and exits 2; a user never sees a stack trace for it.
 */
export class UsageError extends Error {
  override readonly name = 'UsageError'
}

export interface CommandLine<O extends ParseArgsOptionsConfig> {
  readonly values: { [K in keyof O]?: O[K]['type'] extends 'boolean' ? boolean : string }
  readonly positionals: readonly string[]
}

/** True when the arguments ask for help (`--help` or `-h` before any `--`): usage wins over every other check. */
export function wantsHelp(args: readonly string[]): boolean {
  for (const arg of args) {
    if (arg === '--') return false
    if (arg === '--help' || arg === '-h') return true
  }
  return false
}

/**
 * node:util's parseArgs with the rules every sluice command shares: options are strict,
 * at most `maxPositionals` plain arguments, and every mistake becomes one UsageError line
 * (node's own messages suggest `--` tricks that do not help here).
 */
export function parseCommandLine<const O extends ParseArgsOptionsConfig>(args: readonly string[], options: O, maxPositionals = 0): CommandLine<O> {
  let parsed: { values: Record<string, unknown>; positionals: string[] }
  try {
    parsed = parseArgs({ args: [...args], options, allowPositionals: true, strict: true })
  } catch (err) {
    throw new UsageError(describeParseError(err, options))
  }
  if (parsed.positionals.length > maxPositionals) {
    const extra = parsed.positionals[maxPositionals] as string
    throw new UsageError(extra.startsWith('-') && extra.length > 1 ? `unknown option ${extra}` : `unexpected argument "${extra}"`)
  }
  return { values: parsed.values as CommandLine<O>['values'], positionals: parsed.positionals }
}

function describeParseError(err: unknown, options: ParseArgsOptionsConfig): string {
  const code = (err as { code?: unknown }).code
  const message = err instanceof Error ? err.message : String(err)
  const quoted = /'([^']+)'/.exec(message)?.[1]
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && quoted !== undefined) return `unknown option ${quoted}`
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    // "Option '-p, --port <value>' argument missing" or "Option '--json' does not take an argument"
    const name = Object.keys(options).find((o) => quoted?.includes(`--${o}`))
    if (name !== undefined) return options[name]?.type === 'boolean' ? `--${name} takes no value` : `--${name} needs a value`
  }
  return message.split('. ')[0] ?? message
}
