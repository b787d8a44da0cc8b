import type { IncomingMessage, ServerResponse } from 'node:http'
import type { CorsSettings } from '../config/runtime.js'

// Cross-origin requests from browsers, for the data plane only (the admin API, /metrics,
// /status and /health are not for browsers). CORS is the browser's check, not ours: an
// ordinary request is served whatever its origin, and only the headers that let a page read
// the answer are withheld. A preflight is ours to answer: 204 for an allowed origin, 403 for
// another. Credentials go only to an origin listed by name, never to `*` or to an origin
// echoed because any origin is allowed.

/** Response headers a browser client needs to read (request id, rate limits, routing). */
const exposedHeaders = [
  'x-request-id',
  'retry-after',
  'x-ratelimit-limit-requests',
  'x-ratelimit-remaining-requests',
  'x-ratelimit-reset-requests',
  'x-ratelimit-limit-tokens',
  'x-ratelimit-remaining-tokens',
  'x-ratelimit-reset-tokens',
  'x-sluice-deployment',
  'x-sluice-attempts',
  'x-sluice-fallback',
  'x-sluice-group',
].join(', ')

/** Allowed request headers when a preflight asks for none, or for a list we will not echo. */
const defaultAllowedHeaders = [
  'authorization',
  'content-type',
  'x-api-key',
  'x-priority',
  'x-session-id',
  'x-sluice-max-wait',
  'x-test-group',
  'anthropic-version',
  'anthropic-beta',
  'openai-organization',
  'openai-project',
  'x-request-id',
  // The openai SDK (dangerouslyAllowBrowser) sends these with every request.
  'x-stainless-arch',
  'x-stainless-lang',
  'x-stainless-os',
  'x-stainless-package-version',
  'x-stainless-retry-count',
  'x-stainless-runtime',
  'x-stainless-runtime-version',
  'x-stainless-timeout',
].join(', ')

const allowedMethods = 'GET, POST, OPTIONS'

/** An RFC 9110 token: what a header name may be. Anything else in the list is not echoed. */
const token = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/
/** Longer requested-header lists get the default list instead of an echo. */
const maxEchoedLength = 1024

export type HeaderPairs = readonly (readonly [name: string, value: string])[]

export interface CorsAnswer {
  /**
   * 'continue': serve the request as usual, with `headers` set first.
   * 'preflight': answer 204 with `headers`. 'refused': a preflight from an origin not allowed (403).
   */
  readonly kind: 'continue' | 'preflight' | 'refused'
  readonly headers: HeaderPairs
}

/** What a CorsSettings object means per request, worked out once per runtime. */
interface CorsPolicy {
  /** Origins listed by name, serialized as browsers send them ("https://a.example", no default port). */
  readonly listed: ReadonlySet<string>
  /** Any origin, without credentials: every answer says `*`, whatever the origin. */
  readonly star: boolean
  /** An ordinary answer's headers after Access-Control-Allow-Origin. */
  readonly simpleTail: HeaderPairs
  /** A preflight answer's headers after Access-Control-Allow-Origin, before Access-Control-Allow-Headers. */
  readonly preflightTail: HeaderPairs
  /**
   * The headers of an answer without CORS headers (no Origin, or one not allowed): when the
   * answer depends on the origin, Vary says so, so a shared cache never hands one origin's
   * answer to another.
   */
  readonly withoutCors: HeaderPairs
}

const policies = new WeakMap<CorsSettings, CorsPolicy>()

function policyFor(settings: CorsSettings): CorsPolicy {
  let policy = policies.get(settings)
  if (policy === undefined) {
    policy = compilePolicy(settings)
    policies.set(settings, policy)
  }
  return policy
}

function compilePolicy(settings: CorsSettings): CorsPolicy {
  const listed = new Set<string>()
  // `*` is a switch, not an origin: an `Origin: *` header must not match it.
  for (const origin of settings.origins) if (origin !== '*') listed.add(serializedOrigin(origin))
  // With credentials (which the config refuses alongside "*"), only listed origins are allowed.
  const star = settings.any && !settings.credentials
  // Credentials are only ever part of the headers for a listed origin, echoed by name.
  const byOrigin: HeaderPairs = star ? [] : settings.credentials ? [['vary', 'Origin'], ['access-control-allow-credentials', 'true']] : [['vary', 'Origin']]
  const policy: CorsPolicy = {
    listed,
    star,
    simpleTail: [...byOrigin, ['access-control-expose-headers', exposedHeaders]],
    preflightTail: [...byOrigin, ['access-control-allow-methods', allowedMethods], ['access-control-max-age', settings.maxAgeSeconds]],
    withoutCors: star ? [] : [['vary', 'Origin']],
  }
  return Object.freeze(policy)
}

/** "HTTPS://App.example.com:443" → "https://app.example.com", as a browser's Origin header has it. */
function serializedOrigin(origin: string): string {
  try {
    return new URL(origin).origin
  } catch {
    return origin
  }
}

/**
 * The CORS answer to one data-plane request. `origin`, `requestMethod` and `requestHeaders` are
 * the Origin, Access-Control-Request-Method and Access-Control-Request-Headers headers.
 */
export function decideCors(settings: CorsSettings, method: string | undefined, origin: string | undefined, requestMethod: string | undefined, requestHeaders: string | undefined): CorsAnswer {
  const policy = policyFor(settings)
  if (origin === undefined) return { kind: 'continue', headers: policy.withoutCors }
  const preflight = method === 'OPTIONS' && requestMethod !== undefined
  let allowOrigin: string
  if (policy.star) allowOrigin = '*'
  else if (policy.listed.has(origin)) allowOrigin = origin
  else return { kind: preflight ? 'refused' : 'continue', headers: policy.withoutCors }
  const head = ['access-control-allow-origin', allowOrigin] as const
  if (!preflight) return { kind: 'continue', headers: [head, ...policy.simpleTail] }
  return { kind: 'preflight', headers: [head, ...policy.preflightTail, ['access-control-allow-headers', allowedHeaders(requestHeaders)]] }
}

/** The requested headers, echoed when each is a well-formed name; otherwise the default list. */
function allowedHeaders(requested: string | undefined): string {
  if (requested === undefined || requested.length === 0 || requested.length > maxEchoedLength) return defaultAllowedHeaders
  const names = requested.split(',').map((name) => name.trim())
  return names.every((name) => token.test(name)) ? names.join(', ') : defaultAllowedHeaders
}

/**
 * Sets the CORS headers of a data-plane answer before anything else is written (writeHead
 * merges them, so error answers carry them too), and answers an allowed preflight with 204.
 * Returns 'refused' for a preflight the caller must answer with 403.
 */
export function applyCors(settings: CorsSettings, req: IncomingMessage, res: ServerResponse): CorsAnswer['kind'] {
  const h = req.headers
  const answer = decideCors(settings, req.method, h.origin, single(h['access-control-request-method']), single(h['access-control-request-headers']))
  for (const [name, value] of answer.headers) res.setHeader(name, value)
  if (answer.kind === 'preflight') {
    res.writeHead(204)
    res.end()
  }
  return answer.kind
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value
}
