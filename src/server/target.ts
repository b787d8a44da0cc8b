import { SluiceError } from '../errors.js'
import type { Endpoint } from '../providers/types.js'

/** Where a request goes, decided from the raw request target only (never from Host). */
export type Target =
  | { readonly kind: 'endpoint'; readonly endpoint: Endpoint; readonly below: string }
  | { readonly kind: 'models' }
  | { readonly kind: 'model'; readonly id: string; readonly below: string }
  | { readonly kind: 'passthrough'; readonly below: string }
  | { readonly kind: 'health' | 'ready' | 'status' | 'metrics' }
  | { readonly kind: 'admin' }
  | { readonly kind: 'dashboard' }
  | { readonly kind: 'unknown'; readonly path: string }

const exact = new Map<string, Target>(Object.entries({
  '/v1/chat/completions': { kind: 'endpoint', endpoint: 'chat', below: '/chat/completions' },
  '/v1/completions': { kind: 'endpoint', endpoint: 'completions', below: '/completions' },
  '/v1/embeddings': { kind: 'endpoint', endpoint: 'embeddings', below: '/embeddings' },
  '/v1/messages': { kind: 'endpoint', endpoint: 'messages', below: '/messages' },
  '/v1/models': { kind: 'models' },
  '/health': { kind: 'health' },
  '/health/ready': { kind: 'ready' },
  '/status': { kind: 'status' },
  '/metrics': { kind: 'metrics' },
} satisfies Record<string, Target>))

// Encodings of "/", "\" and NUL, and raw backslashes, let a path mean one thing to sluice
// and another to the upstream; dot segments (plain or percent-encoded) climb out of /v1.
// A fragment never belongs in a request target, and ";" parameters on a dot segment
// ("..;/") are how traversal gets past path checks on servlet-style upstreams.
const smuggling = /%2f|%5c|%00|\\|#/i
const dotSegment = /(?:^|\/)(?:\.|%2e){1,2}(?:;[^/]*)?(?:\/|$)/i

/**
 * Classifies a request target. Only origin-form targets ("/path?query") are accepted: an
 * absolute URL or authority form would let a client pick the upstream host.
 */
export function classifyTarget(rawUrl: string): Target {
  const fast = exact.get(rawUrl)
  if (fast) return fast
  if (rawUrl.charCodeAt(0) !== 0x2f /* / */ || rawUrl.startsWith('//')) {
    throw new SluiceError('invalid_path', ['only origin-form request targets ("/v1/…") are accepted'])
  }
  const q = rawUrl.indexOf('?')
  const path = q === -1 ? rawUrl : rawUrl.slice(0, q)
  const query = q === -1 ? '' : rawUrl.slice(q)
  if (smuggling.test(path) || dotSegment.test(path) || path.includes('//')) {
    throw new SluiceError('invalid_path', ['encoded separators, backslashes, empty and dot segments are refused'])
  }
  const known = exact.get(path)
  if (known) return known.kind === 'endpoint' ? { ...known, below: known.below + query } : known
  if (path.startsWith('/v1/models/')) {
    let id: string
    try {
      id = decodeURIComponent(path.slice('/v1/models/'.length))
    } catch {
      throw new SluiceError('invalid_path', ['malformed percent-encoding'])
    }
    return { kind: 'model', id, below: path.slice(3) + query }
  }
  if (path.startsWith('/v1/')) return { kind: 'passthrough', below: path.slice(3) + query }
  if (path.startsWith('/api/admin/')) return { kind: 'admin' }
  if (path === '/dashboard' || path.startsWith('/dashboard/')) return { kind: 'dashboard' }
  return { kind: 'unknown', path }
}
