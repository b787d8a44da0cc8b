import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http'
import type { Dispatcher } from 'undici'
import type { Provider } from '../../config/runtime.js'
import { clientGone, delivered, type Attempt, type AttemptResult } from '../../attempt.js'
import type { RequestContext, Usage } from '../../context.js'
import type { ChunkScrubber } from '../../core/secrets/key-scrubber.js'
import { estimatePromptTokens } from '../../core/tokens/estimate.js'
import { SluiceError } from '../../errors.js'
import { sendError, sendJson, sseErrorEvent } from '../../respond.js'
import { ExchangeAborted, failureError, failureKind, retryableFailures } from './failure.js'
import { scrubUpstreamError } from './scrub.js'
import { UsageChunkFilter } from './stream-usage.js'
import { mergeUsage, usageFromText } from './usage.js'

const enum Mode {
  AwaitingHeaders,
  /** Upstream error status: the body is collected (bounded) and scrubbed before the client sees it. */
  Error,
  /** A 2xx JSON body: relayed as it arrives; the first chunk is checked before headers go out. */
  Body,
  /** A server-sent-event stream: relayed chunk by chunk with backpressure. */
  Stream,
  /** Passthrough: status, headers and body relayed as they are (errors are still scrubbed). */
  Raw,
  Done,
}

const maxErrorBody = 64 * 1024
const tailChunks = 3
const usageScanBytes = 2048

// What upstreams send almost always: known to quote no key, so the hot path skips the search.
const ordinaryContentTypes = new Set(['application/json', 'application/json; charset=utf-8', 'text/event-stream', 'text/event-stream; charset=utf-8'])

const hopByHop = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade'])

/**
 * The undici handler for one upstream exchange. It writes to the client as bytes arrive,
 * pauses the upstream while the client's socket is full, and settles `done` exactly once
 * whatever happens — answer, upstream error, timeout, reset or client abort — with the
 * attempt's result. A failure the client has seen nothing of is handed back, not answered,
 * when the attempt may be sent again (a managed request): the attempt loop decides.
 */
export class Relay implements Dispatcher.DispatchHandler {
  readonly done: Promise<AttemptResult>
  #settle!: (result: AttemptResult) => void
  #mode = Mode.AwaitingHeaders
  #controller: Dispatcher.DispatchController | null = null
  /** The upstream's status, 0 until its response headers arrive. */
  #status = 0
  #headers: IncomingHttpHeaders = {}
  #errorBody: Buffer[] = []
  #errorSize = 0
  #tail: Buffer[] = []
  /** The client receives server-sent events (a managed stream, or a passthrough one). */
  #sse = false
  /** Anthropic streams report input tokens in their first event, not at the end. */
  #headUsage: Usage | null = null
  #timer: NodeJS.Timeout | null = null
  /** Removes the usage chunk sluice asked for on the client's behalf. */
  #usageFilter: UsageChunkFilter | null = null
  /** When the upstream last showed progress (dispatch, headers, a chunk, or the client draining). */
  #lastActivity = 0
  #earlyAbort: ExchangeAborted | null = null
  /** Response headers were sent to the client by this relay. */
  #headersWritten = false
  /** Masks every provider key in the bytes relayed to the client, in every mode. */
  readonly #keys: ChunkScrubber
  readonly #resume = (): void => {
    this.#lastActivity = performance.now()
    this.#controller?.resume()
  }
  readonly #onTimer = (): void => this.#checkDeadlines()

  readonly provider: Provider

  constructor(
    private readonly ctx: RequestContext,
    private readonly attempt: Attempt,
    private readonly raw: boolean,
  ) {
    this.provider = attempt.provider
    this.done = new Promise((resolve) => (this.#settle = resolve))
    this.#keys = ctx.runtime.secrets.scrubber.stream()
    // Upstream time counts from dispatch, so connection set-up is part of it.
    attempt.startedAt = this.#lastActivity = performance.now()
    this.#checkDeadlines()
    ctx.onClientGone(() => this.#abort(new ExchangeAborted('client_abort')))
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller
    if (this.#earlyAbort) controller.abort(this.#earlyAbort)
    else if (this.ctx.clientGone) controller.abort(new ExchangeAborted('client_abort'))
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    if (statusCode < 200) return // 1xx informational
    this.#status = statusCode
    this.#headers = headers
    this.#lastActivity = performance.now()
    this.attempt.upstreamStatus = statusCode
    this.attempt.responded(statusCode, headers)
    // Headers already went out when a waiting stream was kept alive with SSE comments; from
    // here on anything but a stream can only end as an SSE error event.
    if (this.ctx.res.headersSent) this.#sse = true
    if (statusCode >= 400) this.#mode = Mode.Error
    else if (this.raw) this.#startRaw()
    else if (String(headers['content-type'] ?? '').includes('text/event-stream')) this.#startStream()
    else this.#mode = Mode.Body
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    const ctx = this.ctx
    const now = performance.now()
    this.#lastActivity = now
    const attempt = this.attempt
    if (attempt.firstByteAt === 0) {
      attempt.firstByteAt = now
      if (this.#sse && ctx.endpoint === 'messages') this.#headUsage = usageFromText(chunk.subarray(0, usageScanBytes).toString('latin1'))
    }
    switch (this.#mode) {
      case Mode.Error:
        if (this.#errorSize < maxErrorBody) {
          this.#errorBody.push(chunk)
          this.#errorSize += chunk.length
        }
        return
      case Mode.Body:
        if (!this.#headersWritten && !this.#startBody(chunk)) return
        break
      case Mode.Done:
        return
      case Mode.Raw:
        if (ctx.onCreated !== null && this.#status < 300) {
          ctx.onCreated(chunk)
          ctx.onCreated = null
        }
        break
      default:
        break
    }
    this.#keepTail(chunk)
    let out = chunk
    if (this.#mode === Mode.Stream) {
      if (this.#usageFilter !== null) {
        const filtered = this.#usageFilter.push(chunk)
        if (filtered === null) return
        out = filtered
      }
      attempt.streamEvents += countEvents(out)
    }
    if (!ctx.res.write(this.#keys.push(out))) {
      controller.pause()
      ctx.res.once('drain', this.#resume)
    }
  }

  onResponseEnd(): void {
    if (this.#mode === Mode.Done) return
    const ctx = this.ctx
    const attempt = this.attempt
    if (this.#mode === Mode.Error) {
      const hold = this.#status === 429 ? attempt.refused(Buffer.concat(this.#errorBody, this.#errorSize)) : null
      if (hold !== null) {
        // The scheduler sends it again, or answers 429 itself: the client hears nothing of this one.
        attempt.outcome = 'upstream_error'
        attempt.failure = '429'
        return this.#finish({ kind: 'held-rate-limit', hold })
      }
      const held = this.#holdFailure(this.#status)
      if (held !== null) return this.#finish(held)
      this.#sendUpstreamError()
    } else if (!this.#headersWritten && this.#mode === Mode.Body) {
      // A 2xx with an empty body is not an answer any client can use.
      this.#fail(new SluiceError('upstream_invalid_response', [this.provider.id]), 'invalid')
      return
    } else {
      ctx.status = this.#status
      ctx.res.end(this.#keys.end(this.#usageFilter?.flush()))
      attempt.usage = mergeUsage(this.#headUsage, usageFromText(this.#tailText()))
    }
    this.#finish(delivered)
  }

  onResponseError(_controller: Dispatcher.DispatchController | null, err: Error): void {
    if (this.#mode === Mode.Done) return
    const kind = failureKind(err)
    if (kind === 'client_abort' || this.ctx.clientGone) {
      const attempt = this.attempt
      attempt.outcome = this.ctx.outcome = 'client_abort'
      this.ctx.status = 499
      // The upstream bills what it generated even so: a stream cut short is charged (and
      // recorded, flagged partial) for its prompt and the events relayed until then.
      if (this.#mode === Mode.Stream && attempt.usage === null) attempt.usage = partialUsage(this.ctx, attempt)
      this.ctx.res.destroy()
      this.#finish(clientGone)
      return
    }
    this.#fail(failureError(kind, this.provider.id, this.provider.timeouts), kind)
  }

  /**
   * One timer per exchange enforces all three deadlines: first byte (until response headers),
   * idle (upstream silence between chunks, not counting time paused for a slow client) and
   * total. Chunks only stamp #lastActivity; the timer re-arms itself for the nearest deadline,
   * so a busy stream costs no timer work per chunk.
   */
  #checkDeadlines(): void {
    this.#timer = null
    if (this.#mode === Mode.Done) return
    const t = this.provider.timeouts
    const now = performance.now()
    const started = this.attempt.startedAt
    if (t.totalMs > 0 && now - started >= t.totalMs) return this.#abort(new ExchangeAborted('total_timeout'))
    const headersReceived = this.#status !== 0
    const phaseLimit = headersReceived ? t.idleMs : t.firstByteMs
    const paused = this.#controller?.paused === true
    if (phaseLimit > 0 && !paused && now - this.#lastActivity >= phaseLimit) {
      return this.#abort(new ExchangeAborted(headersReceived ? 'idle_timeout' : 'first_byte_timeout'))
    }
    let wait = Infinity
    if (t.totalMs > 0) wait = started + t.totalMs - now
    if (phaseLimit > 0) wait = Math.min(wait, paused ? phaseLimit : this.#lastActivity + phaseLimit - now)
    // Headers may arrive at any moment, and from then on the idle limit applies: waking no
    // later than one idle period from now means the arrival needs no timer work of its own.
    if (!headersReceived && t.idleMs > 0) wait = Math.min(wait, t.idleMs)
    if (wait !== Infinity) this.#timer = setTimeout(this.#onTimer, Math.max(1, Math.ceil(wait)))
  }

  #abort(reason: ExchangeAborted): void {
    if (this.#mode === Mode.Done) return
    if (this.#controller) return this.#controller.abort(reason) // undici reports it through onResponseError
    // Still connecting: end the exchange now; onRequestStart aborts the request if it ever starts.
    this.#earlyAbort = reason
    this.onResponseError(null, reason)
  }

  #startStream(): void {
    this.#mode = Mode.Stream
    this.#sse = true
    if (this.attempt.stripUsageChunk) this.#usageFilter = new UsageChunkFilter()
    const headers: OutgoingHttpHeaders = {
      'content-type': this.#clientContentType('text/event-stream'),
      'cache-control': 'no-cache',
      'x-accel-buffering': 'no',
      'x-request-id': this.ctx.id,
    }
    if (this.attempt.deployment) headers['x-sluice-deployment'] = this.attempt.deployment.id
    if (this.ctx.res.headersSent) return // kept alive while queued: the stream is already open
    this.ctx.res.writeHead(this.#status, headers)
    this.ctx.res.flushHeaders()
  }

  /** Checks the first chunk of a JSON body and sends the headers; false when the body is unusable. */
  #startBody(first: Buffer): boolean {
    const contentType = this.#headers['content-type'] ?? ''
    let i = 0
    while (i < first.length && (first[i] === 0x20 || first[i] === 0x0a || first[i] === 0x0d || first[i] === 0x09)) i++
    if (this.ctx.res.headersSent || !String(contentType).includes('json') || (i < first.length && first[i] !== 0x7b && first[i] !== 0x5b)) {
      this.#fail(new SluiceError('upstream_invalid_response', [this.provider.id]), 'invalid')
      return false
    }
    const headers: OutgoingHttpHeaders = { 'content-type': this.#clientContentType('application/json'), 'x-request-id': this.ctx.id }
    const length = this.#headers['content-length']
    if (length !== undefined && this.#headers['content-encoding'] === undefined) headers['content-length'] = length
    if (this.attempt.deployment) headers['x-sluice-deployment'] = this.attempt.deployment.id
    this.ctx.res.writeHead(this.#status, headers)
    this.#headersWritten = true
    return true
  }

  #startRaw(): void {
    this.#mode = Mode.Raw
    const headers: OutgoingHttpHeaders = {}
    const secrets = this.ctx.runtime.secrets
    for (const name in this.#headers) {
      const value = this.#headers[name]
      if (value === undefined || hopByHop.has(name)) continue
      // CORS is sluice's to answer (cors:), never the upstream's: its headers could allow an
      // origin, or credentials, the config does not.
      if (name.startsWith('access-control-')) continue
      // A passthrough answer is relayed as it is, except for a header that quotes a key.
      if (secrets.holds(Array.isArray(value) ? value.join('\n') : value)) continue
      if (name === 'vary') {
        const ours = this.ctx.res.getHeader('vary')
        const theirs = Array.isArray(value) ? value.join(', ') : value
        headers.vary = ours === undefined ? theirs : `${String(ours)}, ${theirs}`
        continue
      }
      headers[name] = value
    }
    headers['x-request-id'] = this.ctx.id
    if (String(this.#headers['content-type'] ?? '').includes('text/event-stream')) {
      this.#sse = true
      headers['x-accel-buffering'] = 'no'
    }
    this.ctx.res.writeHead(this.#status, headers)
    this.ctx.res.flushHeaders()
  }

  /** The upstream's content type, unless it quotes a key (as every other relayed header may not). */
  #clientContentType(plain: string): string {
    const value = this.#headers['content-type']
    if (value === undefined) return plain
    return ordinaryContentTypes.has(value) || !this.ctx.runtime.secrets.holds(value) ? value : plain
  }

  /** The last bytes relayed, enough to hold a usage object. */
  #tailText(): string {
    const chunks = this.#tail
    if (chunks.length === 0) return ''
    const last = chunks[chunks.length - 1] as Buffer
    const tail = last.length >= usageScanBytes || chunks.length === 1 ? last : Buffer.concat(chunks)
    return tail.subarray(Math.max(0, tail.length - usageScanBytes)).toString('latin1')
  }

  /** Whether what the client got so far ends between two events, where another may start. */
  #atEventBoundary(): boolean {
    const last = this.#tail[this.#tail.length - 1]
    if (last === undefined) return true
    const n = last.length
    return n >= 2 && last[n - 1] === 0x0a && (last[n - 2] === 0x0a || (n >= 4 && last[n - 2] === 0x0d && last[n - 3] === 0x0a))
  }

  #keepTail(chunk: Buffer): void {
    if (this.#tail.length === tailChunks) this.#tail.shift()
    this.#tail.push(chunk)
  }

  /** Upstream said no: map its status and pass on a scrubbed body. */
  #sendUpstreamError(): void {
    const ctx = this.ctx
    const status = this.#status
    ctx.outcome = this.attempt.outcome = 'upstream_error'
    this.attempt.failure = String(status)
    const raw = Buffer.concat(this.#errorBody)
    let clientStatus = status
    let body: string
    if (status === 401 || status === 403 || status === 407) {
      // The gateway's credential was refused; the client's own credentials are not the problem.
      const err = new SluiceError('upstream_error', [this.provider.id, `it rejected the gateway's credentials (HTTP ${status})`])
      clientStatus = err.status
      body = JSON.stringify(err.toJSON())
      ctx.errorCode = err.code
    } else if (status >= 500) {
      const err = new SluiceError('upstream_error', [this.provider.id, `HTTP ${status}`])
      clientStatus = err.status
      body = JSON.stringify(err.toJSON())
      ctx.errorCode = err.code
    } else {
      const scrubbed = scrubUpstreamError(raw, status, this.provider.id, ctx.runtime.secrets)
      body = JSON.stringify(scrubbed)
      ctx.errorCode = scrubbed.error.code
    }
    const headers: Record<string, string> = { 'x-request-id': ctx.id }
    const retryAfter = this.#headers['retry-after']
    if (status === 429 && typeof retryAfter === 'string' && /^\d+(\.\d+)?$/.test(retryAfter)) headers['retry-after'] = retryAfter
    if (this.attempt.deployment) headers['x-sluice-deployment'] = this.attempt.deployment.id
    ctx.status = clientStatus
    if (ctx.res.headersSent) ctx.res.end(`data: ${body}\n\n`) // a kept-alive stream: the error is its only event
    else sendJson(ctx.res, clientStatus, body, headers)
  }

  /**
   * A managed request whose key failed before anything reached the client goes back to the
   * scheduler, which may send it to another key; it answers the client itself otherwise.
   */
  #holdFailure(status: number): AttemptResult | null {
    const attempt = this.attempt
    if (!attempt.handsBackFailures || this.#headersWritten) return null
    if (!(status >= 500 || status === 401 || status === 403)) return null
    const error = new SluiceError('upstream_error', [this.provider.id, status === 401 || status === 403 ? `it rejected the gateway's credentials (HTTP ${status})` : `HTTP ${status}`])
    attempt.outcome = 'upstream_error'
    attempt.failure = String(status)
    return { kind: 'failed-before-first-byte', error, retryable: true }
  }

  #fail(err: SluiceError, kind: string): void {
    const ctx = this.ctx
    const attempt = this.attempt
    attempt.outcome = err.code === 'upstream_timeout' ? 'timeout' : 'upstream_error'
    attempt.failure = kind
    if (attempt.handsBackFailures && !this.#headersWritten && this.#mode !== Mode.Stream) {
      // Nothing of the upstream's reached the client: the attempt loop answers, or tries again.
      // Done before the abort, which undici may report back into this handler at once.
      this.#finish({ kind: 'failed-before-first-byte', error: err, retryable: retryableFailures.has(kind) })
      if (this.#controller && !this.#controller.aborted) this.#controller.abort(err)
      return
    }
    const started = this.#headersWritten || this.#mode === Mode.Stream
    ctx.outcome = attempt.outcome
    ctx.errorCode = err.code
    ctx.status = err.status
    if (!ctx.res.headersSent) sendError(ctx.res, err, ctx.id)
    // A stream cut inside an event first gets that event terminated, so the error event is
    // read as an event of its own rather than glued to half a line.
    else if (this.#sse) ctx.res.end(this.#atEventBoundary() ? sseErrorEvent(err) : '\n\n' + sseErrorEvent(err))
    else ctx.res.destroy() // a started JSON body cannot carry an error: cut it so the client sees it is incomplete
    if (this.#controller && !this.#controller.aborted) this.#controller.abort(err)
    this.#finish(started ? { kind: 'failed-after-first-byte', error: err } : { kind: 'failed-before-first-byte', error: err, retryable: false })
  }

  #finish(result: AttemptResult): void {
    this.#mode = Mode.Done
    this.attempt.endedAt = performance.now()
    this.attempt.result = result
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = null
    this.ctx.onClientGone(null)
    this.ctx.res.off('drain', this.#resume)
    this.#settle(result)
  }
}

const LF = 0x0a

/** Estimated usage of a stream the client left: its prompt by size, one token per event after the role preamble. */
function partialUsage(ctx: RequestContext, attempt: Attempt): Usage {
  return { promptTokens: estimatePromptTokens(ctx.body?.length ?? 0), completionTokens: Math.max(0, attempt.streamEvents - 1) }
}

/** Server-sent events ended in a chunk (blank lines), for the partial usage of a stream cut short. */
function countEvents(chunk: Buffer): number {
  let n = 0
  for (let i = chunk.indexOf(LF); i >= 0 && i + 1 < chunk.length; i = chunk.indexOf(LF, i + 1)) if (chunk[i + 1] === LF) n++
  return n
}
