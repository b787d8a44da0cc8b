import pino, { type DestinationStream, type Logger } from 'pino'
import { BatchedDestination } from './log-destination.js'

export type { Logger }

/**
 * JSON lines on stdout. No redaction pass: nothing sluice logs can hold a secret by
 * construction (keys are referred to by id, errors are built from the catalogue), a canary
 * test proves it, and pino's redaction cost a third of the per-request CPU.
 */
export function createLogger(opts: { level?: string; destination?: DestinationStream | BatchedDestination } = {}): Logger {
  return pino(
    {
      level: opts.level ?? 'info',
      base: { service: 'sluice' },
      formatters: { level: (label) => ({ level: label }) },
    },
    opts.destination ?? stdoutDestination(),
  )
}

let stdout: BatchedDestination | null = null

/**
 * The process's one stdout destination. Whatever is still buffered is written out however the
 * process ends (a failed start returning its exit code, a crash): shutdown flushes on its own
 * path, and this catches the rest.
 */
function stdoutDestination(): BatchedDestination {
  if (stdout === null) {
    const destination = (stdout = new BatchedDestination())
    process.once('exit', () => destination.flushSync())
  }
  return stdout
}

/** Resolves once everything the logger buffered has been written (or could not be). */
export function flushLogger(logger: Logger): Promise<void> {
  const destination = destinationOf(logger)
  if (destination === null) return Promise.resolve()
  return new Promise((resolve) => destination.flush(() => resolve()))
}

/** Writes out whatever the logger still buffers, synchronously, before the process exits. */
export function flushLoggerSync(logger: Logger): void {
  destinationOf(logger)?.flushSync()
}

/** Log lines the logger's own destination had to drop (0 for any other destination). */
export function droppedLogLines(logger: Logger): number {
  return destinationOf(logger)?.dropped ?? 0
}

function destinationOf(logger: Logger): BatchedDestination | null {
  const stream = (logger as unknown as Record<symbol, unknown>)[pino.symbols.streamSym]
  return stream instanceof BatchedDestination ? stream : null
}
