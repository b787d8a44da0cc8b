import { randomUUID } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Runtime } from '../config/runtime.js'
import { RequestContext } from '../context.js'
import { SluiceError, asSluiceError } from '../errors.js'
import { sendError, sendJson } from '../respond.js'
import type { Metrics } from '../telemetry/metrics.js'
import type { StatusTracker } from './status.js'
import { classifyTarget, type Target } from './target.js'

export interface HandlerDeps {
  readonly runtime: () => Runtime
  readonly pipeline: (ctx: RequestContext) => Promise<void>
  readonly status: StatusTracker
  readonly metrics: Metrics
  readonly isDraining: () => boolean
  /** Called when a pipeline request finishes, so shutdown can wait for the last one. */
  readonly onIdle: () => void
}

const validRequestId = /^[A-Za-z0-9._:-]{1,128}$/

/** The node:http request listener: the built-in routes, and everything else into the pipeline. */
export function createHandler(deps: HandlerDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const { status, metrics } = deps

  const finishPipeline = (): void => {
    status.inFlight--
    if (status.inFlight === 0) deps.onIdle()
  }

  return function handle(req, res) {
    const given = req.headers['x-request-id']
    const id = typeof given === 'string' && validRequestId.test(given) ? given : randomUUID()
    if (deps.isDraining()) res.shouldKeepAlive = false

    let target: Target
    try {
      target = classifyTarget(req.url ?? '/')
    } catch (err) {
      return refuse(res, asSluiceError(err, id), id)
    }
    const runtime = deps.runtime()

    switch (target.kind) {
      case 'endpoint':
        if (req.method !== 'POST') return refuse(res, new SluiceError('method_not_allowed', [req.method, req.url]), id)
        return runPipeline(new RequestContext(id, req, res, runtime, target.endpoint, target.below))
      case 'passthrough':
        return runPipeline(new RequestContext(id, req, res, runtime, 'passthrough', target.below))
      case 'models':
        if (req.method !== 'GET') return refuse(res, new SluiceError('method_not_allowed', [req.method, req.url]), id)
        return sendJson(res, 200, runtime.modelListJson, { 'x-request-id': id })
      case 'model': {
        const found = runtime.models.get(target.id)
        if (found && req.method === 'GET') return sendJson(res, 200, found.modelJson, { 'x-request-id': id })
        if (!found && runtime.passthrough) return runPipeline(new RequestContext(id, req, res, runtime, 'passthrough', target.below))
        if (req.method !== 'GET') return refuse(res, new SluiceError('method_not_allowed', [req.method, req.url]), id)
        return refuse(res, new SluiceError('model_not_found', [target.id], { param: 'model' }), id)
      }
      case 'health':
        return sendJson(res, 200, '{"status":"ok"}')
      case 'ready': {
        const problems: string[] = []
        if (deps.isDraining()) problems.push('draining')
        if (!status.upstreamsReachable(runtime)) problems.push('no upstream was reachable when last tried')
        const body = JSON.stringify({ status: problems.length === 0 ? 'ready' : 'not_ready', problems, config_generation: runtime.generation })
        return sendJson(res, problems.length === 0 ? 200 : 503, body)
      }
      case 'status':
        return sendJson(res, 200, JSON.stringify(status.snapshot(runtime, deps.isDraining())))
      case 'metrics':
        return void serveMetrics(metrics, res)
      case 'unknown':
        return refuse(res, new SluiceError('not_found', [req.method, target.path]), id)
    }
  }

  function runPipeline(ctx: RequestContext): void {
    status.inFlight++
    ctx.res.on('close', () => {
      if (!ctx.res.writableFinished) ctx.clientClosed()
    })
    deps.pipeline(ctx).then(finishPipeline, finishPipeline)
  }
}

/** Answer an error without reading the body; the connection is closed so an unread body cannot confuse the next request. */
function refuse(res: ServerResponse, err: SluiceError, id: string): void {
  res.shouldKeepAlive = false
  sendError(res, err, id)
}

export async function serveMetrics(metrics: Metrics, res: ServerResponse): Promise<void> {
  try {
    const text = await metrics.registry.metrics()
    res.writeHead(200, { 'content-type': metrics.registry.contentType })
    res.end(text)
  } catch {
    sendError(res, new SluiceError('internal_error', ['metrics']), 'metrics')
  }
}
