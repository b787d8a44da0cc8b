import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AdminIdentity } from './auth.js'
import type { Session } from '../dashboard/session.js'
import { SluiceError } from '../errors.js'

export type Method = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE'

/** What a route handler gets: path parameters (decoded), the query, and the JSON body if any. */
export interface AdminRequest {
  /** Absent when the dashboard reads a route for its overview. */
  readonly req?: IncomingMessage
  readonly params: Readonly<Record<string, string>>
  readonly query: URLSearchParams
  /** Who is calling, and their dashboard session when they came with its cookie. */
  readonly caller: AdminIdentity & { readonly session: Session | null }
  /** Parsed lazily: only routes that take a body read one. */
  body(): Promise<unknown>
}

/** A handler's answer: a status and a JSON-serialisable value, or a stream it writes itself. */
export interface AdminResponse {
  readonly status: number
  readonly body: unknown
  /** Takes the response over (server-sent events); status and body are then unused. */
  readonly stream?: (res: ServerResponse) => void
}

export type AdminHandler = (r: AdminRequest) => AdminResponse | Promise<AdminResponse>

/** Who may call a route: any admin key (`read`), or only a full admin key (`admin`). */
export type Role = 'read' | 'admin'

/** What every route must say about itself: its authorization rule, and what the OpenAPI document shows. */
export interface RouteSpec {
  readonly role: Role
  readonly summary: string
  /** Query parameters, by name, with what they mean. */
  readonly query?: Readonly<Record<string, string>>
  /** JSON Schema of the request body, when it takes one. */
  readonly body?: unknown
}

export interface Route {
  readonly method: Method
  /** A path such as /api/admin/adaptive/keys/{key_id}/mode. */
  readonly path: string
  readonly spec: RouteSpec
  readonly handler: AdminHandler
}

interface CompiledRoute extends Route {
  readonly pattern: RegExp
  readonly names: readonly string[]
}

export interface Match {
  readonly route: Route
  readonly params: Record<string, string>
}

/** Routes matched by method and path; the table is public so tests can enumerate every route. */
export class Router {
  readonly #routes: CompiledRoute[] = []

  add(method: Method, path: string, spec: RouteSpec, handler: AdminHandler): this {
    const names: string[] = []
    // {name} is one path segment; {name+} the rest of the path up to the next literal (an id
    // that holds slashes, such as a deployment's provider/key/model).
    const source = path.replace(/[.*?^$()|[\]\\]/g, '\\$&').replace(/\{(\w+)(\+?)\}/g, (_, name: string, rest: string) => {
      names.push(name)
      return rest ? '(.+?)' : '([^/]+)'
    })
    this.#routes.push({ method, path, spec, handler, pattern: new RegExp(`^${source}$`), names })
    return this
  }

  get routes(): readonly Route[] {
    return this.#routes
  }

  /** The route for `method` and `path`; 404 when no route has the path, 405 when none has the method. */
  match(method: string, path: string): Match {
    let pathKnown = false
    for (const r of this.#routes) {
      const m = r.pattern.exec(path)
      if (!m) continue
      pathKnown = true
      if (r.method !== method) continue
      const params: Record<string, string> = {}
      r.names.forEach((name, i) => {
        try {
          params[name] = decodeURIComponent(m[i + 1] as string)
        } catch {
          throw new SluiceError('invalid_path', ['malformed percent-encoding'])
        }
      })
      return { route: r, params }
    }
    if (pathKnown) throw new SluiceError('method_not_allowed', [method, path])
    throw new SluiceError('not_found', [method, path])
  }
}
