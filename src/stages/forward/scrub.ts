import type { SecretIndex } from '../../core/secrets/secret-index.js'
import type { ErrorBody } from '../../errors.js'

// An upstream error body can quote the credential it received (OpenAI's 401 does, partly
// masked; misconfigured self-hosted servers echo whole headers). Only four fields survive,
// each scrubbed of every configured secret and of anything shaped like a credential.

const credentialShapes = [
  /\b(?:sk|pk|rk)-[A-Za-z0-9_*.-]{6,}/g, // OpenAI / Anthropic / DeepSeek style keys, masked or not
  /\bnvapi-[A-Za-z0-9_-]{6,}/g, // NVIDIA NIM
  /\bBearer\s+\S+/gi,
  /\b(?:api[-_]?key|x-api-key|authorization)\s*[:=]\s*\S+/gi,
  /\b[A-Za-z0-9_-]{32,}\b/g, // long opaque tokens (Azure keys are 32 hex characters)
]

export function scrubText(text: string, secrets: SecretIndex): string {
  let out = secrets.redact(text)
  for (const shape of credentialShapes) out = out.replace(shape, '[redacted]')
  return out
}

const safeCode = /^[A-Za-z0-9_.-]{1,64}$/

/**
 * Builds the client's error body from an upstream error body (OpenAI or Anthropic shape, or
 * anything else), keeping message, type, code and param only.
 */
export function scrubUpstreamError(raw: Buffer, status: number, providerId: string, secrets: SecretIndex): ErrorBody {
  let message = `Upstream ${providerId} returned HTTP ${status}`
  let type = status === 429 ? 'rate_limit_error' : 'invalid_request_error'
  let code: string | null = null
  let param: string | null = null
  const parsed = tryParse(raw)
  const inner = parsed && typeof parsed === 'object' && 'error' in parsed ? (parsed as { error: unknown }).error : null
  if (inner && typeof inner === 'object') {
    const e = inner as Record<string, unknown>
    if (typeof e.message === 'string' && e.message.length > 0) message = scrubText(e.message, secrets).slice(0, 2000)
    type = safeToken(e.type, secrets) ?? type
    code = typeof e.code === 'number' ? String(e.code) : safeToken(e.code, secrets)
    if (typeof e.param === 'string') param = scrubText(e.param, secrets).slice(0, 200)
  } else if (typeof inner === 'string') {
    message = scrubText(inner, secrets).slice(0, 2000)
  }
  return { error: { message, type, code, param } }
}

/** A short identifier kept only when scrubbing would not change it (so it cannot be a credential). */
function safeToken(value: unknown, secrets: SecretIndex): string | null {
  if (typeof value !== 'string' || !safeCode.test(value)) return null
  return scrubText(value, secrets) === value ? value : null
}

function tryParse(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8'))
  } catch {
    return null
  }
}
