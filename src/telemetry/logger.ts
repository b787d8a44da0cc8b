import pino, { type DestinationStream, type Logger } from 'pino'

export type { Logger }

/**
 * JSON lines on stdout. Nothing logged by sluice carries a secret by construction (keys are
 * referred to by id); the redact list is a second line of defence for headers that a future
 * log call might include by mistake.
 */
export function createLogger(opts: { level?: string; destination?: DestinationStream } = {}): Logger {
  return pino(
    {
      level: opts.level ?? 'info',
      base: { service: 'sluice' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: {
        paths: ['*.authorization', '*.headers.authorization', '*.headers["api-key"]', '*.headers["x-api-key"]', '*.key', '*.secret'],
        censor: '[redacted]',
      },
    },
    opts.destination ?? pino.destination({ dest: 1, sync: false }),
  )
}
