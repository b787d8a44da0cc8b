import type { IncomingMessage, ServerResponse } from 'node:http'
import { SimulatorConfigError, validateConfigPatch, validateScript } from './config/parse.js'
import { readBody } from './http/body.js'
import type { SimulatorState } from './state.js'

export const CONTROL_PREFIX = '/__sim/'

/**
 * The out-of-process face of the in-process API (`sluice simulate`): same semantics.
 * Control requests are neither recorded nor counted.
 */
export async function handleControl(state: SimulatorState, req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
  const action = `${req.method ?? ''} ${path.slice(CONTROL_PREFIX.length)}`
  try {
    const raw = await readBody(req)
    switch (action) {
      case 'GET stats': return reply(res, 200, state.stats.snapshot())
      case 'GET requests': return reply(res, 200, state.log.list())
      case 'POST config':
        state.configure(validateConfigPatch(parseJson(raw)))
        return reply(res, 200, { ok: true })
      case 'POST script':
        state.script.push(validateScript(parseJson(raw)))
        return reply(res, 200, { ok: true, queued: state.script.size })
      case 'POST reset':
        state.reset()
        return reply(res, 200, { ok: true })
      default:
        return reply(res, 404, { error: { message: `unknown control action ${action}` } })
    }
  } catch (err) {
    const message = err instanceof SimulatorConfigError || err instanceof SyntaxError ? err.message : 'control request failed'
    reply(res, 400, { error: { message } })
  }
}

function parseJson(raw: Buffer | null): unknown {
  if (raw === null) throw new SimulatorConfigError('control body too large')
  return raw.length === 0 ? {} : JSON.parse(raw.toString('utf8'))
}

function reply(res: ServerResponse, status: number, value: unknown): void {
  const body = Buffer.from(JSON.stringify(value))
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': body.length })
  res.end(body)
}
