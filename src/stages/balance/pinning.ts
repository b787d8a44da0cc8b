import type { RequestContext } from '../../context.js'

// OpenAI objects that live in one account: a request naming one must go to the key that made it.

/** Paths whose POST creates such an object; the id is in the answer's first bytes. */
const creating = /^\/(files|batches|responses|uploads|vector_stores)(\?|$)/
/** A path naming one: /files/{id}, /batches/{id}/cancel, /responses/{id}/input_items … */
const naming = /^\/(?:files|batches|responses|uploads|vector_stores)\/([A-Za-z0-9_-]{1,200})(?:[/?]|$)/
/** A JSON body naming one. */
const bodyFields = /"(?:previous_response_id|input_file_id|file_id)"\s*:\s*"([A-Za-z0-9_-]{1,200})"/
/** Bodies larger than this are uploads, not references: not scanned. */
const maxScannedBody = 64 * 1024

/** The pinned object a passthrough request names, if any. */
export function referencedObject(ctx: RequestContext): string | null {
  const path = ctx.pathBelowV1
  const m = naming.exec(path)
  if (m) return m[1] as string
  const body = ctx.body
  if (body === null || body.length === 0 || body.length > maxScannedBody) return null
  const type = ctx.req.headers['content-type']
  if (typeof type !== 'string' || !type.includes('json')) return null
  const f = bodyFields.exec(body.toString('latin1'))
  return f ? (f[1] as string) : null
}

/** Whether the request creates an object whose id the answer will carry. */
export function createsObject(ctx: RequestContext): boolean {
  return ctx.req.method === 'POST' && creating.test(ctx.pathBelowV1)
}

export { createdObjectId } from '../../core/balance/created-object.js'
