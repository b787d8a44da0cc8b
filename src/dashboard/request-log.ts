import type { RequestContext } from '../context.js'
import { priorityNames, type Priority } from '../core/queue/index.js'

/**
 * One finished request as the dashboard's live log shows it: ids, names and numbers only —
 * never a body, a virtual key or a provider key. A slot of the ring, overwritten in place.
 */
export interface LogEntry {
  seq: number
  /** Wall-clock epoch ms when the request ended. */
  at: number
  requestId: string
  endpoint: string
  model: string | null
  provider: string | null
  key: string | null
  consumer: string | null
  priority: string | null
  status: number
  outcome: string
  error: string | null
  totalMs: number
  queuedMs: number
  ttftMs: number | null
  promptTokens: number | null
  completionTokens: number | null
  attempts: number
}

export interface LogFilter {
  readonly model?: string
  readonly key?: string
  readonly consumer?: string
  readonly status?: number
}

/**
 * The last `capacity` requests in a ring of slots made once: recording a request copies a
 * dozen references and numbers into the oldest slot and allocates nothing.
 */
export class RequestLog {
  readonly #slots: LogEntry[]
  #next = 0
  #seq = 0

  constructor(readonly capacity = 1000) {
    this.#slots = Array.from({ length: capacity }, () => ({
      seq: 0, at: 0, requestId: '', endpoint: '', model: null, provider: null, key: null, consumer: null, priority: null,
      status: 0, outcome: '', error: null, totalMs: 0, queuedMs: 0, ttftMs: null, promptTokens: null, completionTokens: null, attempts: 0,
    }))
  }

  /** The sequence number of the newest entry (0 before the first). */
  get lastSeq(): number {
    return this.#seq
  }

  record(ctx: RequestContext, at: number, endedAt: number): void {
    const e = this.#slots[this.#next] as LogEntry
    this.#next = (this.#next + 1) % this.capacity
    e.seq = ++this.#seq
    e.at = at
    e.requestId = ctx.id
    e.endpoint = ctx.endpoint
    e.model = ctx.servingRoute?.name ?? ctx.model
    e.provider = ctx.provider?.id ?? null
    e.key = ctx.key?.id ?? null
    e.consumer = ctx.consumer?.name ?? null
    e.priority = ctx.priority === null ? null : (priorityNames[ctx.priority as Priority] ?? null)
    e.status = ctx.status
    e.outcome = ctx.outcome
    e.error = ctx.errorCode
    e.totalMs = Math.round(endedAt - ctx.startedAt)
    e.queuedMs = Math.round(ctx.queuedMs)
    e.ttftMs = ctx.upstreamFirstByteAt > 0 ? Math.round(ctx.upstreamFirstByteAt - ctx.upstreamStartedAt) : null
    e.promptTokens = ctx.usage?.promptTokens ?? null
    e.completionTokens = ctx.usage?.completionTokens ?? null
    e.attempts = ctx.attempts.length
  }

  /** Copies of the entries newer than `seq` that match, oldest first, at most `limit` (the newest ones). */
  since(seq: number, filter: LogFilter = {}, limit = this.capacity): LogEntry[] {
    const out: LogEntry[] = []
    const count = Math.min(this.#seq, this.capacity)
    // Walk newest to oldest so `limit` keeps the newest, then reverse.
    for (let i = 1; i <= count && out.length < limit; i++) {
      const e = this.#slots[(this.#next - i + this.capacity) % this.capacity] as LogEntry
      if (e.seq <= seq) break
      if (matches(e, filter)) out.push({ ...e })
    }
    return out.reverse()
  }
}

function matches(e: LogEntry, f: LogFilter): boolean {
  return (
    (f.model === undefined || e.model === f.model) &&
    (f.key === undefined || e.key === f.key) &&
    (f.consumer === undefined || e.consumer === f.consumer) &&
    (f.status === undefined || e.status === f.status)
  )
}
