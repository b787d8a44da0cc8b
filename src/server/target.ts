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

/** The /v1 routes sluice manages itself, which a path must never reach the upstream around. */
const managed = new Set([...exact].filter(([, t]) => t.kind === 'endpoint' || t.kind === 'models').map(([path]) => path))

// Encodings of "/", "\" and NUL, and raw backslashes, let a path mean one thing to sluice
// and another to the upstream; dot segments (plain or percent-encoded) climb out of /v1.
// A fragment never belongs in a request target, and ";" parameters on a dot segment
// ("..;/") are how traversal gets past path checks on servlet-style upstreams.
const smuggling = /%2f|%5c|%00|\\|#/i
const dotSegment = /(?:^|\/)(?:\.|%2e){1,2}(?:;[^/]*)?(?:\/|$)/i
// Once decoded, a path that still holds an encoded dot, separator, NUL or percent sign was
// encoded twice (or more): an upstream or proxy that decodes again would see what the first
// decoding hid ("%252e%252e" → "%2e%2e" → "..").
const encodedTwice = /%(?:2e|2f|5c|00|25)/i

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
  if (known) return withQuery(known, query)
  const decoded = decodePath(path)
  // A managed route spelt another way ("/v1/Chat/Completions", a trailing slash, "%63hat")
  // is that route: passed through, it would reach the upstream around the queue and the pacer.
  const trimmed = decoded.length > 1 && decoded.endsWith('/') ? decoded.slice(0, -1) : decoded
  const canonical = lowerAscii(trimmed)
  if (managed.has(canonical)) return withQuery(exact.get(canonical) as Target, query)
  if (canonical.startsWith('/v1/models/')) {
    const id = trimmed.slice('/v1/models/'.length)
    return { kind: 'model', id, below: `/models/${path.slice('/v1/models/'.length)}${query}` }
  }
  if (path.startsWith('/v1/')) return { kind: 'passthrough', below: path.slice(3) + query }
  if (path.startsWith('/api/admin/')) return { kind: 'admin' }
  if (path === '/dashboard' || path.startsWith('/dashboard/')) return { kind: 'dashboard' }
  return { kind: 'unknown', path }
}

function withQuery(target: Target, query: string): Target {
  return target.kind === 'endpoint' && query !== '' ? { ...target, below: target.below + query } : target
}

/**
 * The path as the upstream will read it. Malformed percent-encoding ("%", "%zz") and bytes
 * that are not UTF-8 (overlong forms such as "%c0%ae" for ".") are refused, as are dot
 * segments and separators that only appear after decoding, or after decoding twice.
 */
function decodePath(path: string): string {
  if (!path.includes('%')) return path
  let decoded: string
  try {
    decoded = decodeURIComponent(path)
  } catch {
    throw new SluiceError('invalid_path', ['malformed percent-encoding (or bytes that are not UTF-8)'])
  }
  if (dotSegment.test(decoded) || encodedTwice.test(decoded)) {
    throw new SluiceError('invalid_path', ['encoded dot segments and separators are refused, however many times they are encoded'])
  }
  return decoded
}

/** How a case-insensitive upstream router compares paths. */
function lowerAscii(path: string): string {
  return path.replace(/[A-Z]+/g, (s) => s.toLowerCase())
}
