import { readFile } from 'node:fs/promises'
import { parseSimulatorConfig } from './config/parse.js'
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

interface SimulateArgs { port: number, configPath: string | undefined, host: string | undefined }

/**
 * `sluice simulate [--port N] [--config sim.yaml]`: runs the simulator until SIGINT/SIGTERM.
 * Without --config it serves the demo configuration.
 */
export async function runSimulateCommand(args: string[], opts: SimulateCommandOptions = {}): Promise<void> {
  const parsed = parseArgs(args)
  const out = opts.out ?? process.stdout
  const config: SimulatorConfigInput = parsed.configPath === undefined
    ? demoSimulatorConfig
    : parseSimulatorConfig(await readFile(parsed.configPath, 'utf8'))
  const sim = await startSimulator({ port: parsed.port, host: parsed.host, config })
  out.write(`${JSON.stringify({
    level: 30,
    time: Date.now(),
    msg: 'simulator listening',
    url: sim.url,
    config: parsed.configPath ?? 'demo',
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

function parseArgs(args: readonly string[]): SimulateArgs {
  const out: SimulateArgs = { port: DEFAULT_SIMULATOR_PORT, configPath: undefined, host: undefined }
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? ''
    const [flag, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined]
    const value = (): string => {
      const v = inline ?? args[++i]
      if (v === undefined || v === '') throw new Error(`${flag} needs a value`)
      return v
    }
    switch (flag) {
      case '--port': {
        const port = Number(value())
        if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new Error(`--port must be an integer from 0 to 65535`)
        out.port = port
        break
      }
      case '--config': out.configPath = value(); break
      case '--host': out.host = value(); break
      default: throw new Error(`unknown option ${arg} (expected --port N, --config FILE)`)
    }
  }
  return out
}
