import { readFile } from 'node:fs/promises'
import { parseCommandLine, UsageError } from '../cli-args.js'
import { parseSimulatorConfig, SimulatorConfigError } from './config/parse.js'
import { demoSimulatorConfig } from './config/demo.js'
import { startSimulator } from './server.js'
import type { SimulatorConfigInput } from './types.js'

export const DEFAULT_SIMULATOR_PORT = 4010

export interface SimulateCommandOptions {
  /** Stops the simulator like SIGINT does (tests, or a parent command that owns the lifetime). */
  signal?: AbortSignal
  /** Where the log line goes (default stdout). */
  out?: { write(line: string): unknown }
}

/** What `sluice simulate --help` prints, and what follows a mistake in its arguments. */
export const simulateUsage = `Usage: sluice simulate [--port N] [--config FILE]

Runs sluice's fake upstream on 127.0.0.1 until SIGINT or SIGTERM: OpenAI, Azure and Anthropic
dialects with per-key limits, latency and faults. README.md ("The simulator") describes FILE.

Options:
  -p, --port N        port to listen on (default ${DEFAULT_SIMULATOR_PORT}; 0 picks a free one)
  -c, --config FILE   simulator config (YAML); without it, the demo's keys and limits
  -h, --help          print this help
`

const simulateOptions = {
  port: { type: 'string', short: 'p' },
  config: { type: 'string', short: 'c' },
  host: { type: 'string' },
} as const

/**
 * `sluice simulate [--port N] [--config sim.yaml]`: runs the simulator until SIGINT/SIGTERM.
 * Without --config it serves the demo configuration. A mistake in the arguments is a
 * UsageError; a config file that cannot be read or is invalid, a SimulatorConfigError.
 */
export async function runSimulateCommand(args: string[], opts: SimulateCommandOptions = {}): Promise<void> {
  const { values } = parseCommandLine(args, simulateOptions)
  const port = values.port === undefined ? DEFAULT_SIMULATOR_PORT : Number(values.port)
  if (!/^\d+$/.test(values.port ?? '0') || port > 65_535) throw new UsageError(`--port must be an integer from 0 to 65535, not "${values.port}"`)
  const out = opts.out ?? process.stdout
  const config: SimulatorConfigInput = values.config === undefined ? demoSimulatorConfig : parseSimulatorConfig(await readConfig(values.config))
  const sim = await startSimulator({ port, host: values.host, config })
  out.write(`${JSON.stringify({
    level: 30,
    time: Date.now(),
    msg: 'simulator listening',
    url: sim.url,
    config: values.config ?? 'demo',
  })}\n`)
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
      opts.signal?.removeEventListener('abort', stop)
      resolve()
    }
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
    if (opts.signal?.aborted === true) stop()
    else opts.signal?.addEventListener('abort', stop)
  })
  await sim.close()
}

async function readConfig(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8')
  } catch (err) {
    throw new SimulatorConfigError(`simulator config: cannot read ${path}: ${(err as Error).message}`)
  }
}
