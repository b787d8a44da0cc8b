import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http'
import type { SimulatorRuntime } from './config/compile.js'
import { handleControl, CONTROL_PREFIX } from './control.js'
import { dialects, type Dialect } from './dialects/dialect.js'
import {
  bodyTooLarge, echoKey, injected, invalidKey, invalidRequest, methodNotAllowed, missingKey, notFound, Problem, quotaExhausted,
} from './dialects/problem.js'
import { endpointParsers, type ParsedRequest } from './endpoints/index.js'
import type { Fault } from './faults/fault.js'
import { drawFault } from './faults/random-faults.js'
import { isRecord } from './generate/prompt.js'
import { tokenSequence } from './generate/text.js'
import { addRateLimitHeaders } from './headers/rate-limit-headers.js'
import { readBody, splitTarget } from './http/body.js'
import { deliverBody, deliverStream, type MidStreamFault } from './http/deliver.js'
import { deliverLeak, ECHO_KEY_HEADER } from './http/leak.js'
import type { Exchange } from './http/exchange.js'
import { dialectForPath, matchRoute } from './http/routes.js'
import { serveServerEndpoint } from './http/server-endpoints.js'
import { unlistedKeyId } from './keys/key-registry.js'
import { refusalProblem } from './keys/refusal.js'
import { NO_KEY_ID, type SimulatorState } from './state.js'

export { ECHO_KEY_HEADER }

export function createRequestHandler(state: SimulatorState): (req: IncomingMessage, res: ServerResponse) => void {
  const parsers = endpointParsers(state.responses)
  return (req, res) => {
    const { path, query } = splitTarget(req.url ?? '/')
    if (path.startsWith(CONTROL_PREFIX)) {
      void handleControl(state, req, res, path)
      return
    }
    if (serveServerEndpoint(state, req, res, path)) return
    const ex = state.open(req, res, path)
    serve(state, parsers, ex, query).catch(() => {
      // A bug here must not hang the client: answer 500 if nothing was sent, else cut.
      if (!res.headersSent) ex.send(500, { 'content-type': 'application/json' }, Buffer.from('{"error":{"message":"simulator failure","type":"server_error","param":null,"code":null}}'))
      else ex.cut()
    })
  }
}

/**
 * The life of one upstream request, in the order a real provider checks things:
 * route → key → version/params → body → quota → scripted step → limits → random fault → answer.
 */
async function serve(state: SimulatorState, parsers: ReturnType<typeof endpointParsers>, ex: Exchange, query: string): Promise<void> {
  const { req } = ex
  const runtime = state.runtime
  const route = matchRoute(ex.path, req.method)
  const dialect = dialects[route?.dialect ?? dialectForPath(ex.path)]
  const key = dialect.keyFrom(req.headers)
  const limits = key === undefined ? undefined : state.keys.get(key)
  ex.keyId = key === undefined ? NO_KEY_ID : limits?.policy.id ?? unlistedKeyId(key)
  ex.ledger = state.stats.ledger(ex.keyId)

  const raw = await readBody(req)
  if (ex.closed) return
  const headers: OutgoingHttpHeaders = { [dialect.requestIdHeader]: `req_sim${ex.id}` }
  if (raw === null) return fail(ex, dialect, bodyTooLarge(), headers)
  if (route === undefined) return fail(ex, dialect, notFound(req.method ?? '', ex.path), headers)
  if (req.method !== route.method) return fail(ex, dialect, methodNotAllowed(req.method ?? '', ex.path), headers)
  if (key === undefined) return fail(ex, dialect, missingKey(dialect.keyHeader), headers)
  if ((limits === undefined && !runtime.acceptUnknownKeys) || limits?.policy.revoked === true) return fail(ex, dialect, invalidKey(ex.keyId), headers)
  const refused = dialect.checkRequest(req.headers, query)
  if (refused !== null) return fail(ex, dialect, refused, headers)

  // GET and DELETE carry no body; a cancel may come without one.
  const hasBody = route.method === 'POST' && !(route.endpoint === 'response_cancel' && raw.length === 0)
  const body = hasBody ? parseJson(raw) : {}
  if (body instanceof Problem) return fail(ex, dialect, body, headers)
  ex.bodyJson = hasBody ? body : null
  const parsed = parsers[route.endpoint](body, route, runtime)
  if (parsed instanceof Problem) return fail(ex, dialect, parsed, headers)
  ex.model = parsed.model
  ex.stream = parsed.stream
  if (limits?.policy.quotaExhausted === true) return fail(ex, dialect, quotaExhausted(), headers)

  // A scripted step is the test's explicit wish for this request: it bypasses the limits and the random faults.
  const step = state.script.take({ model: parsed.model, key, keyId: ex.keyId, path: ex.path })
  if (step === undefined && limits !== undefined) {
    const admission = limits.admit(parsed.tokenCost, ex.ledger.stats.in_flight)
    addRateLimitHeaders(headers, limits.policy, admission, state.clock.now())
    if (admission.refused !== null) {
      return fail(ex, dialect, refusalProblem(admission.refused, admission, limits.policy, parsed.model ?? '', parsed.tokenCost), headers)
    }
  }
  state.admit(ex)
  const fault = step ?? keyFault(state, runtime, limits?.policy.errorRate ?? 0) ?? (runtime.anyFault ? drawFault(runtime.faults, state.random()) : null)
  await answer(state, runtime, ex, dialect, parsed, headers, fault, key)
}

/** A key's own error rate: one draw, only for keys that have one, so other keys' runs replay as before. */
function keyFault(state: SimulatorState, runtime: SimulatorRuntime, rate: number): Fault | null {
  return rate > 0 && state.random() < rate ? { kind: 'error', status: runtime.faults.errorStatus } : null
}

async function answer(
  state: SimulatorState, runtime: SimulatorRuntime, ex: Exchange, dialect: Dialect,
  parsed: ParsedRequest, headers: OutgoingHttpHeaders, fault: Fault | null, key: string,
): Promise<void> {
  switch (fault?.kind) {
    case 'reset_before_headers':
      return ex.cut()
    case 'stall_before_headers':
      await ex.sleep(fault.ms)
      if (ex.closed) return
      break
    case 'error':
      if (fault.body === undefined) return fail(ex, dialect, injected(fault.status), { ...headers, ...fault.headers })
      ex.outcome = 'error'
      return ex.send(fault.status, { 'content-type': 'application/json', ...fault.headers }, Buffer.from(typeof fault.body === 'string' ? fault.body : JSON.stringify(fault.body)))
    case 'echo_key_in_error':
      return fail(ex, dialect, echoKey(fault.status, key), { ...headers, [ECHO_KEY_HEADER]: key })
    case 'garbage':
      return sendGarbage(ex, parsed.stream)
    default:
      break
  }

  const count = fault?.kind === 'slow_chunks' ? fault.chunks : parsed.completionTokens
  const intervalMs = fault?.kind === 'slow_chunks' ? fault.interval_ms : runtime.chunkIntervalMs
  const tokens = tokenSequence(parsed.seed, count)
  const meta = { id: ex.id, created: Math.floor(state.clock.now() / 1000), model: parsed.model ?? '' }
  if (fault?.kind === 'echo_key_in_answer') return deliverLeak(ex, headers, parsed, meta, tokens, key, fault.split === true)
  const mid = midStreamFault(fault, count)
  const encoder = parsed.stream ? parsed.encoder(meta, tokens) : null
  if (encoder !== null) {
    headers['content-type'] = 'text/event-stream'
    headers['cache-control'] = 'no-cache'
    return deliverStream(ex, headers, encoder, tokens, { ttftMs: runtime.ttftMs, intervalMs, splitUtf8: runtime.chunkSplitUtf8, midStream: mid })
  }
  headers['content-type'] = 'application/json'
  // A non-streamed answer arrives when its last token would have.
  const delayMs = runtime.ttftMs + Math.max(0, count - 1) * intervalMs
  return deliverBody(ex, 200, headers, Buffer.from(parsed.render(meta, tokens)), delayMs, mid)
}

function midStreamFault(fault: Fault | null, count: number): MidStreamFault | null {
  if (fault?.kind === 'reset_mid_stream') {
    return { afterChunks: fault.after_chunks === 'half' ? Math.floor(count / 2) : fault.after_chunks, stallMs: null }
  }
  if (fault?.kind === 'stall_mid_stream') return { afterChunks: fault.after_chunks, stallMs: fault.ms }
  return null
}

function fail(ex: Exchange, dialect: Dialect, problem: Problem, headers: OutgoingHttpHeaders): void {
  ex.outcome = problem.outcome
  headers['content-type'] = 'application/json'
  ex.send(problem.status, headers, Buffer.from(dialect.errorBody(problem)))
}

const GARBAGE_JSON = Buffer.from('<!DOCTYPE html><html><body>upstream said: {"choices":[{"mess</body></html>')
// An event cut inside its JSON, a line that is no JSON at all, and no [DONE].
const GARBAGE_SSE = Buffer.from('data: {"id":"chatcmpl-garbage","choices":[{"delta":{"content":"caf\n\ndata: <<not json>>\n\n')

function sendGarbage(ex: Exchange, stream: boolean): void {
  ex.outcome = 'error'
  ex.send(200, { 'content-type': stream ? 'text/event-stream' : 'application/json' }, stream ? GARBAGE_SSE : GARBAGE_JSON)
}

function parseJson(raw: Buffer): Record<string, unknown> | Problem {
  try {
    const value: unknown = JSON.parse(raw.toString('utf8'))
    if (isRecord(value)) return value
  } catch {
    // fall through to the same answer as a non-object body
  }
  return invalidRequest('We could not parse the JSON body of your request.')
}
