import pino, { type Logger } from 'pino'
import type { AttemptSummary } from '../attempt.js'

/** One finished request, as the access log records it. */
export interface AccessRecord {
  readonly requestId: string
  readonly method: string | undefined
  readonly endpoint: string
  readonly model: string | null
  readonly route: string | null
  readonly provider: string | null
  readonly key: string | null
  readonly deployment: string | null
  readonly stream: boolean
  readonly status: number
  readonly outcome: string
  readonly error: string | null
  readonly upstreamStatus: number | null
  readonly totalMs: number
  readonly upstreamMs: number | null
  readonly ttftMs: number | null
  readonly promptTokens: number | null
  readonly completionTokens: number | null
  /** urgent | high | normal | low, for managed requests. */
  readonly priority: string | null
  readonly queuedMs: number
  /** Upstream attempts (a 429 taken back and the retry after it are two). */
  readonly attempts: number
  /** One entry per try, only when there was more than one (null otherwise). */
  readonly tries?: readonly AttemptSummary[] | null
}

const str = (v: string | null | undefined): string => (v === null || v === undefined ? 'null' : JSON.stringify(v))
const num = (v: number | null): string => (v !== null && Number.isFinite(v) ? String(v) : 'null')

/**
 * The access log line, built by hand: it is written once per request, and a template with a
 * fixed field order costs a fraction of a generic serializer walking an object. The line has
 * the same shape as the logger's own (`level`, `time`, `service`, `msg`), so one parser reads both.
 */
export function formatAccessLine(r: AccessRecord, time: number): string {
  return (
    `{"level":"info","time":${time},"service":"sluice","msg":"request","requestId":${str(r.requestId)},"method":${str(r.method)}` +
    `,"endpoint":${str(r.endpoint)},"model":${str(r.model)},"route":${str(r.route)},"provider":${str(r.provider)},"key":${str(r.key)}` +
    `,"deployment":${str(r.deployment)},"stream":${r.stream},"status":${r.status},"outcome":${str(r.outcome)},"error":${str(r.error)}` +
    `,"upstreamStatus":${num(r.upstreamStatus)},"totalMs":${r.totalMs},"upstreamMs":${num(r.upstreamMs)},"ttftMs":${num(r.ttftMs)}` +
    `,"promptTokens":${num(r.promptTokens)},"completionTokens":${num(r.completionTokens)},"priority":${str(r.priority)},"queuedMs":${r.queuedMs},"attempts":${r.attempts}${r.tries === null || r.tries === undefined ? '' : `,"tries":${triesJson(r.tries)}`}}\n`
  )
}

function triesJson(tries: readonly AttemptSummary[]): string {
  let out = '['
  for (let i = 0; i < tries.length; i++) {
    const t = tries[i] as AttemptSummary
    out += `${i === 0 ? '' : ','}{"deployment":${str(t.deployment)},"upstreamStatus":${num(t.upstreamStatus)},"result":${str(t.result)},"ms":${num(t.ms)}}`
  }
  return out + ']'
}

/** Writes access-log lines to the logger's own destination, when its level lets info through. */
export function accessLogWriter(logger: Logger): (record: AccessRecord) => void {
  const stream = (logger as unknown as Record<symbol, { write(line: string): unknown }>)[pino.symbols.streamSym]
  if (!stream) return (record) => logger.info(record, 'request')
  return (record) => {
    if (logger.isLevelEnabled('info')) stream.write(formatAccessLine(record, Date.now()))
  }
}
