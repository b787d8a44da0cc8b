#!/usr/bin/env node
import { existsSync, readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { keysCommand, keysUsage } from './cli-keys.js'
import { demoConfig } from './config/demo.js'
import type { ConfigSource } from './config/holder.js'
import { ConfigError, loadConfigFile } from './config/load.js'
import { configReference } from './config/reference.js'
import { configJsonSchema } from './config/schema.js'
import { startGateway } from './main.js'
import { runSimulateCommand, startSimulator } from './simulator/index.js'
import { createLogger, flushLoggerSync } from './telemetry/logger.js'

const usage = `Usage: sluice <command> [options]

Commands:
  start [--config FILE] [--port N] [--no-watch]
                                     Run the gateway (default config: ./sluice.yaml, or $SLUICE_CONFIG;
                                     with neither, a demo against the built-in simulator). The config
                                     reloads on SIGHUP and, unless --no-watch, when the file changes.
  check-config [FILE]                Validate a config file; exits 1 with each problem and its line
  simulate [--port N] [--config F]   Run the upstream simulator on 127.0.0.1 (default port 4010)
  keys create|list|revoke …          Manage virtual keys in the database (sluice keys --help)
  version                            Print the version
  schema [--markdown]                Print the JSON Schema of sluice.yaml (or its Markdown reference)
`

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  switch (command) {
    case 'start':
      return start(rest)
    case 'check-config':
      return checkConfig(rest)
    case 'simulate':
      await runSimulateCommand(rest)
      return -1
    case 'keys':
      if (rest[0] === undefined || rest[0] === '--help') {
        process.stdout.write(keysUsage)
        return rest[0] === undefined ? 2 : 0
      }
      return keysCommand(rest)
    case 'schema':
      process.stdout.write(rest[0] === '--markdown' ? configReference(configJsonSchema()) : JSON.stringify(configJsonSchema(), null, 2) + '\n')
      return 0
    case 'version':
    case '--version':
    case '-v':
      process.stdout.write(`${(JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version}\n`)
      return 0
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(usage)
      return 0
    default:
      process.stderr.write(`unknown command "${command}"\n\n${usage}`)
      return 2
  }
}

function defaultConfigFile(explicit: string | undefined): string | null {
  if (explicit) return resolve(explicit)
  if (process.env.SLUICE_CONFIG) return resolve(process.env.SLUICE_CONFIG)
  return existsSync('sluice.yaml') ? resolve('sluice.yaml') : null
}

function checkConfig(args: string[]): number {
  const file = defaultConfigFile(args[0])
  if (!file) {
    process.stderr.write('no config file: pass one, set SLUICE_CONFIG, or create ./sluice.yaml\n')
    return 2
  }
  try {
    const cfg = loadConfigFile(file)
    process.stdout.write(`${file}: ok (${Object.keys(cfg.providers).length} providers, ${Object.keys(cfg.models).length} models)\n`)
    return 0
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(err.message + '\n')
      return 1
    }
    throw err
  }
}

async function start(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { config: { type: 'string', short: 'c' }, port: { type: 'string', short: 'p' }, 'no-watch': { type: 'boolean' } } })
  const file = defaultConfigFile(values.config)
  const port = values.port === undefined ? undefined : Number(values.port)
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port < 65536)) {
    process.stderr.write(`--port must be a port number, not "${values.port}"\n`)
    return 2
  }

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
        'To use real providers, copy sluice.example.yaml to sluice.yaml (or pass --config FILE) and restart.',
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
    process.stderr.write(`sluice: ${(err as Error).stack ?? String(err)}\n`)
    process.exitCode = 1
  },
)
