// An upstream 401 or 403 says "no", but not always to the key. A key the provider no longer
// accepts must leave service at once; a request it refuses for its own shape or its model must
// not, or one client's bad call takes a shared key out for everyone (issue 16, item 2).
//
// The body tells them apart. OpenAI, Azure and Anthropic all name an invalid, revoked or
// disabled key in their 401; a missing key (the request used another dialect's auth header),
// a model the key may not use, or a permission the key lacks for one resource are named too.
// Anything not recognised as the request's fault is the key's: a wrong guess there costs one
// key until its probe passes, a wrong guess the other way keeps a dead key in rotation.

export type RejectionBlame = 'key' | 'request'

export interface RejectionVerdict {
  readonly blame: RejectionBlame
  /** A fixed phrase for logs and the client's message; never upstream text. */
  readonly reason: string
}

const requestShapedCodes = new Set(['model_not_found', 'model_not_available', 'unsupported_model', 'missing_api_key'])

const requestShapedMessages: ReadonlyArray<[RegExp, string]> = [
  [/you didn'?t provide an api key|no api key provided|missing (?:an? )?(?:api[ -]?key|authentication|credentials)|x-api-key header is required|api-key header is (?:missing|required)/i, 'the request did not carry the key the way this upstream reads it'],
  [/(?:project|organization|key)\b.{0,80}\bdoes not have access to (?:the )?model|do(?:es)? not have access to (?:the |this )?model|not allowed to (?:sample from|use|access) (?:this|the)? ?model|model\b.{0,80}\b(?:does not exist|is not (?:available|supported|enabled))/i, 'the key may not use this model'],
]

/** Who an upstream 401/403/407 blames, from its parsed body (any dialect's error shape, or nothing). */
export function classifyRejection(status: number, body: unknown): RejectionVerdict {
  if (status !== 401 && status !== 403 && status !== 407) return { blame: 'request', reason: 'not an authentication or permission refusal' }
  const inner = typeof body === 'object' && body !== null && 'error' in body ? (body as { error: unknown }).error : null
  const e = typeof inner === 'object' && inner !== null ? (inner as Record<string, unknown>) : {}
  const code = typeof e.code === 'string' ? e.code : null
  const type = typeof e.type === 'string' ? e.type : null
  const message = typeof e.message === 'string' ? e.message : typeof inner === 'string' ? inner : ''
  if (code !== null && requestShapedCodes.has(code)) return { blame: 'request', reason: code === 'missing_api_key' ? 'the request did not carry the key the way this upstream reads it' : 'the key may not use this model' }
  for (const [pattern, reason] of requestShapedMessages) if (pattern.test(message)) return { blame: 'request', reason }
  // Anthropic's 403 permission_error is about one resource (a model, a beta feature) the key may
  // not use; its invalid or disabled keys answer 401 authentication_error.
  if (status === 403 && type === 'permission_error') return { blame: 'request', reason: 'the key may not use what this request asks for' }
  return { blame: 'key', reason: 'the upstream rejected the key' }
}
