#!/usr/bin/env node
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseCommandLine, UsageError, wantsHelp } from './cli-args.js'
import { keysCommand, keysUsage } from './cli-keys.js'
import { demoConfig } from './config/demo.js'
import type { ConfigSource } from './config/holder.js'
import { ConfigError, loadConfigFile } from './config/load.js'
import { configReference } from './config/reference.js'
import { configJsonSchema } from './config/schema.js'
import { startGateway } from './main.js'
import { StoreOpenError } from './store/errors.js'
import { runSimulateCommand, SimulatorConfigError, simulateUsage, startSimulator } from './simulator/index.js'
import { createLogger, flushLoggerSync } from './telemetry/logger.js'

const usage = `Usage: sluice <command> [options]

Commands:
  start [--config FILE] [--port N] [--no-watch]
                                     Run the gateway (default config: ./sluice.yaml, or $SLUICE_CONFIG;
                                     with neither, a demo against the built-in simulator). The config
                                     reloads on SIGHUP and, unless --no-watch, when the file changes.
  check-config [FILE]                Validate a config file; exits 1 with each problem and its line
  simulate [--port N] [--config F]   Run the upstream simulator on 127.0.0.1 (default port 4010)
  keys create|list|revoke …          Manage virtual keys in the database
  version                            Print the version
  schema [--markdown]                Print the JSON Schema of sluice.yaml (or its Markdown reference)
  bench [MODE] [--profile]           Run the benchmarks in bench/ (npm run bench, without the build)

Every command prints its own options with --help (sluice start --help).
`

const startUsage = `Usage: sluice start [--config FILE] [--port N] [--no-watch]

Runs the gateway. The config is FILE, else $SLUICE_CONFIG, else ./sluice.yaml; with none of
them, a demo against the built-in simulator. It reloads on SIGHUP and, unless --no-watch, when
the file changes.

Options:
  -c, --config FILE   the config file
  -p, --port N        listen on port N instead of server.port (0 picks a free one)
      --no-watch      reload only on SIGHUP
  -h, --help          print this help
`

const checkConfigUsage = `Usage: sluice check-config [FILE]

Validates a config file (default: $SLUICE_CONFIG, else ./sluice.yaml) as sluice start would,
\${VAR} references included, without starting anything. Prints every problem with its path and
line and exits 1, or prints a summary and exits 0.

Options:
  -c, --config FILE   the file to check (the same as giving it as an argument)
  -h, --help          print this help
`

const schemaUsage = `Usage: sluice schema [--markdown]

Prints the JSON Schema of sluice.yaml (for editors), or with --markdown the reference that
docs/config.md holds.

Options:
      --markdown      print the Markdown reference instead
  -h, --help          print this help
`

const benchUsage = `Usage: sluice bench [MODE] [--profile]

Runs bench/run.js from this checkout against the built dist/, as npm run bench does after it
builds. Without a MODE, the proxy-overhead benchmark (about 2 minutes, and both cores); the modes
(pacing, concurrency, …) are listed at the top of bench/run.js and in bench/README.md.

Options:
      --profile       one closed-loop sluice run under --cpu-prof, summarised
  -h, --help          print this help
`

const versionUsage = `Usage: sluice version

Prints the version of sluice.
`

interface Command {
  readonly usage: string
  /** Resolves with the exit code, or -1 when the command keeps running (a server). */
  run(args: string[]): Promise<number>
}

const commands: Readonly<Record<string, Command>> = {
  start: { usage: startUsage, run: start },
  'check-config': { usage: checkConfigUsage, run: async (args) => checkConfig(args) },
  simulate: {
    usage: simulateUsage,
    run: async (args) => {
      await runSimulateCommand(args)
      return -1
    },
  },
  keys: { usage: keysUsage, run: (args) => keysCommand(args) },
  schema: { usage: schemaUsage, run: async (args) => schema(args) },
  bench: { usage: benchUsage, run: bench },
  version: { usage: versionUsage, run: async (args) => version(args) },
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  switch (name) {
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(usage)
      return 0
    case '--version':
    case '-v':
      return version([])
  }
  const command = Object.hasOwn(commands, name) ? commands[name] : undefined
  if (command === undefined) {
    process.stderr.write(`sluice: unknown command "${name}"\n\n${usage}`)
    return 2
  }
  if (wantsHelp(rest)) {
    process.stdout.write(command.usage)
    return 0
  }
  try {
    return await command.run(rest)
  } catch (err) {
    if (!(err instanceof UsageError)) throw err
    process.stderr.write(`sluice ${name}: ${err.message}\n\n${command.usage}`)
    return 2
  }
}

function defaultConfigFile(explicit: string | undefined): string | null {
  if (explicit) return resolve(explicit)
  if (process.env.SLUICE_CONFIG) return resolve(process.env.SLUICE_CONFIG)
  return existsSync('sluice.yaml') ? resolve('sluice.yaml') : null
}

function checkConfig(args: string[]): number {
  const { values, positionals } = parseCommandLine(args, { config: { type: 'string', short: 'c' } }, 1)
  if (values.config !== undefined && positionals[0] !== undefined) throw new UsageError('give the file once: as an argument or with --config')
  const file = defaultConfigFile(values.config ?? positionals[0])
  if (!file) throw new UsageError('no config file: pass one, set SLUICE_CONFIG, or create ./sluice.yaml')
  // A ConfigError reaches the handler at the bottom, which prints every problem and exits 1.
  const cfg = loadConfigFile(file)
  process.stdout.write(`${file}: ok (${count(Object.keys(cfg.providers).length, 'provider')}, ${count(Object.keys(cfg.models).length, 'model')})\n`)
  return 0
}

/** The benchmarks live beside dist/ in a checkout; they are run, not imported, as npm run bench does. */
async function bench(args: string[]): Promise<number> {
  parseCommandLine(args, { profile: { type: 'boolean' } }, Infinity)
  const script = fileURLToPath(new URL('../bench/run.js', import.meta.url))
  if (!existsSync(script)) throw new UsageError(`the benchmarks are not here (${script}): run sluice bench from a checkout of the repository`)
  const child = spawn(process.execPath, [script, ...args], { stdio: 'inherit' })
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null]
  return code ?? (signal === null ? 1 : 128)
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`
}

function schema(args: string[]): number {
  const { values } = parseCommandLine(args, { markdown: { type: 'boolean' } })
  process.stdout.write(values.markdown === true ? configReference(configJsonSchema()) : JSON.stringify(configJsonSchema(), null, 2) + '\n')
  return 0
}

function version(args: string[]): number {
  parseCommandLine(args, {})
  process.stdout.write(`${(JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version}\n`)
  return 0
}

async function start(args: string[]): Promise<number> {
  const { values } = parseCommandLine(args, { config: { type: 'string', short: 'c' }, port: { type: 'string', short: 'p' }, 'no-watch': { type: 'boolean' } })
  const file = defaultConfigFile(values.config)
  const port = values.port === undefined ? undefined : Number(values.port)
  if (port !== undefined && !(/^\d+$/.test(values.port ?? '') && port < 65536)) throw new UsageError(`--port must be a port number, not "${values.port}"`)

  let source: ConfigSource
  let onStop: () => Promise<void> = async () => undefined
  const logger = createLogger()
  if (file) {
    source = { file }
  } else {
    const simulator = await startSimulator()
    onStop = () => simulator.close()
    source = { value: demoConfig(simulator.url), label: 'demo' }
    logger.info(
      { simulator: simulator.url },
      `No sluice.yaml found: running the DEMO configuration against the built-in simulator at ${simulator.url}. ` +
        'To use real providers, copy sluice.minimal.yaml (one key) or sluice.example.yaml to sluice.yaml (or pass --config FILE) and restart.',
    )
  }

  let gateway
  try {
    gateway = await startGateway({ config: source, logger, port, watch: !values['no-watch'] })
  } catch (err) {
    await onStop()
    if (err instanceof ConfigError) {
      process.stderr.write(err.message + '\n')
      return 1
    }
    const code = (err as { code?: unknown }).code
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
      process.stderr.write(`sluice: cannot listen (${code}): ${(err as Error).message}. Pass --port N or change server.port / server.host.\n`)
      return 1
    }
    throw err
  }
  process.on('SIGHUP', () => gateway.reload())
  let stopping = false
  const stop = (signal: string): void => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now')
      flushLoggerSync(logger)
      process.exit(1)
    }
    stopping = true
    logger.info({ signal }, 'shutting down')
    void gateway
      .shutdown()
      .then(onStop)
      .then(() => {
        flushLoggerSync(logger)
        process.exit(0)
      })
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
  // Announced only once the signal handlers are in place, so a supervisor that reacts to this
  // line can signal at once.
  const runtime = gateway.runtime()
  logger.info(
    { url: gateway.url, metricsPort: gateway.metricsPort, config: runtime.source, models: [...runtime.models.keys()] },
    `sluice listening on ${gateway.url}`,
  )

  return -1
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code
  },
  (err: unknown) => {
    // What the user can fix is told in its own words; a stack trace is for sluice's own bugs.
    if (err instanceof ConfigError || err instanceof SimulatorConfigError) process.stderr.write(`${err.message}\n`)
    else if (err instanceof StoreOpenError) process.stderr.write(`sluice: cannot open the database: ${err.message}\n`)
    else process.stderr.write(`sluice: ${(err as Error).stack ?? String(err)}\n`)
    process.exitCode = 1
  },
)
