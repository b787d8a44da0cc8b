import type { IncomingMessage, ServerResponse } from 'node:http'
import type { CorsSettings } from '../config/runtime.js'

// Cross-origin requests from browsers, for the data plane only. An allowed origin is echoed
// (or `*` when any origin is allowed without credentials); credentials are only ever allowed
// for origins listed by name, so no arbitrary origin is reflected with them.

const exposed = [
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

const allowedHeaders = [
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
  'x-stainless-arch',
  'x-stainless-lang',
  'x-stainless-os',
  'x-stainless-package-version',
  'x-stainless-retry-count',
  'x-stainless-runtime',
  'x-stainless-runtime-version',
  'x-stainless-timeout',
].join(', ')

export type CorsDecision = 'none' | 'allowed' | 'refused'

/** Whether `origin` may call, and with which Access-Control-Allow-Origin value. */
export function allowOrigin(cors: CorsSettings, origin: string): string | null {
  if (cors.origins.has(origin)) return origin
  // Any origin: never with credentials (the config refuses that too), and then `*` needs no Vary.
  if (cors.any && !cors.credentials) return '*'
  return null
}

/**
 * Adds CORS headers to a data-plane answer for an allowed origin. Returns 'refused' for a
 * preflight from an origin that is not allowed, 'allowed' when the preflight was answered, and
 * 'none' for an ordinary request (which goes on whatever its origin: blocking it is the browser's job).
 */
export function applyCors(cors: CorsSettings, req: IncomingMessage, res: ServerResponse): CorsDecision {
  const origin = req.headers.origin
  if (typeof origin !== 'string') return 'none'
  const allowed = allowOrigin(cors, origin)
  const preflight = req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined
  if (allowed === null) return preflight ? 'refused' : 'none'
  res.setHeader('access-control-allow-origin', allowed)
  if (allowed !== '*') res.setHeader('vary', 'Origin')
  if (cors.credentials && allowed !== '*') res.setHeader('access-control-allow-credentials', 'true')
  if (!preflight) {
    res.setHeader('access-control-expose-headers', exposed)
    return 'none'
  }
  res.setHeader('access-control-allow-methods', 'GET, POST, OPTIONS')
  res.setHeader('access-control-allow-headers', allowedHeaders)
  res.setHeader('access-control-max-age', cors.maxAgeSeconds)
  res.writeHead(204)
  res.end()
  return 'allowed'
}
