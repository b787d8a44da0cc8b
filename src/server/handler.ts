import { randomUUID } from 'node:crypto'
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http'
import type { CorsSettings, Runtime } from '../config/runtime.js'
import { RequestContext } from '../context.js'
import { SluiceError, asSluiceError } from '../errors.js'
import { sendError, sendJson } from '../respond.js'
import type { Metrics } from '../telemetry/metrics.js'
import type { StatusTracker } from './status.js'
import { applyCors } from './cors.js'
import { classifyTarget, type Target } from './target.js'

export interface HandlerDeps {
  /** The live runtime, for the built-in routes. */
  readonly runtime: () => Runtime
  /** The runtime a pipeline request keeps to its end, and its release. */
  readonly acquireRuntime: () => Runtime
  readonly releaseRuntime: (runtime: Runtime) => void
  readonly pipeline: (ctx: RequestContext) => Promise<void>
  /** Resolves when the caller may use the data plane (the auth stage's rules); rejects with its 401. */
  readonly checkCaller: (headers: IncomingHttpHeaders, runtime: Runtime) => Promise<void>
  readonly status: StatusTracker
  readonly metrics: Metrics
  readonly isDraining: () => boolean
  /** Called when a pipeline request finishes, so shutdown can wait for the last one. */
  readonly onIdle: () => void
  /** Serves /api/admin/*. */
  readonly admin?: (req: IncomingMessage, res: ServerResponse, requestId: string) => void
  /** Serves /dashboard and its files. */
  readonly dashboard?: (req: IncomingMessage, res: ServerResponse, requestId: string) => void
}

const validRequestId = /^[A-Za-z0-9._:-]{1,128}$/

/**
 * The node:http request listener. The built-in routes answer here; everything else, refusals
 * included, goes through the pipeline so that it is answered, counted and logged one way.
 */
export function createHandler(deps: HandlerDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const { status, metrics } = deps

  return function handle(req, res) {
    const given = req.headers['x-request-id']
    const id = typeof given === 'string' && validRequestId.test(given) ? given : randomUUID()
    if (deps.isDraining()) res.shouldKeepAlive = false

    const cors = deps.runtime().cors
    if (req.headers.host === undefined && req.httpVersionMajor === 1 && req.httpVersionMinor === 1) {
      return runPipeline(id, req, res, 'passthrough', '', new SluiceError('malformed_request', ['an HTTP/1.1 request needs a Host header'], { param: 'host' }))
    }
    let target: Target
    try {
      target = classifyTarget(req.url ?? '/')
    } catch (err) {
      // A refused /v1/ path is still a data-plane answer, which a browser must be able to read.
      if (cors !== null && req.url?.startsWith('/v1/') === true && corsAnswered(cors, id, req, res)) return
      return runPipeline(id, req, res, 'passthrough', '', asSluiceError(err, id))
    }
    if (cors !== null && isDataPlane(target.kind) && corsAnswered(cors, id, req, res)) return

    switch (target.kind) {
      case 'endpoint':
        if (req.method !== 'POST') return runPipeline(id, req, res, target.endpoint, target.below, notAllowed(req, 'POST'))
        return runPipeline(id, req, res, target.endpoint, target.below, null)
      case 'passthrough':
        return runPipeline(id, req, res, 'passthrough', target.below, passthroughRefusal(req))
      case 'models': {
        if (req.method !== 'GET') return runPipeline(id, req, res, 'passthrough', '', notAllowed(req, 'GET'))
        const runtime = deps.runtime()
        return answerCaller(id, req, res, runtime, () => sendJson(res, 200, runtime.modelListJson, { 'x-request-id': id }))
      }
      case 'model': {
        const runtime = deps.runtime()
        const found = runtime.models.get(target.id)
        if (!found && runtime.passthrough) return runPipeline(id, req, res, 'passthrough', target.below, passthroughRefusal(req))
        if (req.method !== 'GET') return runPipeline(id, req, res, 'passthrough', '', found ? notAllowed(req, 'GET') : modelNotFound(target.id))
        return answerCaller(id, req, res, runtime, () => {
          if (found) sendJson(res, 200, found.modelJson, { 'x-request-id': id })
          else runPipeline(id, req, res, 'passthrough', '', modelNotFound(target.id))
        })
      }
      case 'health':
        return sendJson(res, 200, '{"status":"ok"}')
      case 'ready': {
        const runtime = deps.runtime()
        const problems: string[] = []
        if (deps.isDraining()) problems.push('draining')
        if (!status.upstreamsReachable(runtime)) problems.push('no upstream was reachable when last tried')
        // Degraded is still ready: taking every instance out of the balancer for a shared database would refuse the keys the cache still serves.
        const body = JSON.stringify({ status: problems.length === 0 ? 'ready' : 'not_ready', problems, degraded: status.degraded(), config_generation: runtime.generation })
        return sendJson(res, problems.length === 0 ? 200 : 503, body)
      }
      case 'status':
        return sendJson(res, 200, JSON.stringify(status.snapshot(deps.runtime(), deps.isDraining())))
      case 'metrics':
        return void serveMetrics(metrics, res)
      case 'admin':
        if (deps.admin) return deps.admin(req, res, id)
        return runPipeline(id, req, res, 'passthrough', '', new SluiceError('not_found', [req.method, req.url]))
      case 'dashboard':
        if (deps.dashboard) return deps.dashboard(req, res, id)
        return runPipeline(id, req, res, 'passthrough', '', new SluiceError('not_found', [req.method, req.url]))
      case 'unknown':
        return runPipeline(id, req, res, 'passthrough', '', new SluiceError('not_found', [req.method, target.path]))
    }
  }

  /** Runs `answer` once the caller is known to hold a valid key; a refusal is answered, counted and logged as any other. */
  function answerCaller(id: string, req: IncomingMessage, res: ServerResponse, runtime: Runtime, answer: () => void): void {
    deps.checkCaller(req.headers, runtime).then(answer, (err: unknown) => runPipeline(id, req, res, 'passthrough', '', asSluiceError(err, id)))
  }

  /** Sets the CORS headers of a data-plane request; true when it was a preflight, now answered (204) or refused (403). */
  function corsAnswered(cors: CorsSettings, id: string, req: IncomingMessage, res: ServerResponse): boolean {
    const kind = applyCors(cors, req, res)
    if (kind === 'refused') runPipeline(id, req, res, 'passthrough', '', new SluiceError('cors_origin_not_allowed', [String(req.headers.origin)]))
    return kind !== 'continue'
  }

  function runPipeline(id: string, req: IncomingMessage, res: ServerResponse, endpoint: RequestContext['endpoint'], below: string, refusal: SluiceError | null): void {
    const runtime = deps.acquireRuntime()
    const ctx = new RequestContext(id, req, res, runtime, endpoint, below)
    ctx.refusal = refusal
    status.inFlight++
    res.on('close', () => {
      if (!res.writableFinished) ctx.clientClosed()
    })
    const finished = (): void => {
      deps.releaseRuntime(runtime)
      status.inFlight--
      if (status.inFlight === 0) deps.onIdle()
    }
    deps.pipeline(ctx).then(finished, finished)
  }
}

function isDataPlane(kind: Target['kind']): boolean {
  return kind === 'endpoint' || kind === 'passthrough' || kind === 'models' || kind === 'model'
}

function modelNotFound(id: string): SluiceError {
  return new SluiceError('model_not_found', [id], { param: 'model' })
}

function notAllowed(req: IncomingMessage, allow: string): SluiceError {
  return new SluiceError('method_not_allowed', [req.method, req.url], { allow })
}

// The methods the providers' APIs use, and OPTIONS for CORS. Anything else (TRACE above all,
// which an RFC-compliant upstream answers by echoing the request, injected key included) is
// never forwarded.
const passthroughMethods = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'])
const passthroughAllow = [...passthroughMethods].join(', ')

function passthroughRefusal(req: IncomingMessage): SluiceError | null {
  return passthroughMethods.has(req.method ?? '') ? null : notAllowed(req, passthroughAllow)
}

export async function serveMetrics(metrics: Metrics, res: ServerResponse): Promise<void> {
  try {
    const text = await metrics.render()
    res.writeHead(200, { 'content-type': metrics.contentType })
    res.end(text)
  } catch {
    sendError(res, new SluiceError('internal_error', ['metrics']), 'metrics')
  }
}
