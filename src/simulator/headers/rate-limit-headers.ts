import type { OutgoingHttpHeaders } from 'node:http'
import type { KeyPolicy } from '../config/compile.js'
import type { Admission } from '../keys/key-limits.js'
import type { LimiterState } from '../limits/types.js'
import { goDuration } from './go-duration.js'

type Headers = OutgoingHttpHeaders

/**
 * Adds the rate-limit headers of the key's `headers` mode to a response (200 or 429), in the
 * formats each provider really uses, because the gateway parses them to learn limits.
 * `retry-after` follows the key's `retry_after` flag alone, so "no headers, no retry-after"
 * and "no headers, but retry-after" are both reachable.
 */
export function addRateLimitHeaders(out: Headers, policy: KeyPolicy, admission: Admission, nowMs: number): void {
  const { requests, tokens } = admission
  switch (policy.headers) {
    case 'openai':
      if (requests) addOpenAi(out, 'requests', requests)
      if (tokens) addOpenAi(out, 'tokens', tokens)
      break
    case 'azure':
      if (requests) out['x-ratelimit-remaining-requests'] = String(requests.remaining)
      if (tokens) out['x-ratelimit-remaining-tokens'] = String(tokens.remaining)
      break
    case 'anthropic':
      if (requests) addAnthropic(out, 'requests', requests, nowMs)
      if (tokens) addAnthropic(out, 'tokens', tokens, nowMs)
      break
    case 'none':
      break
  }
  if (admission.refused !== null && policy.retryAfter) {
    out['retry-after'] = String(Math.max(1, Math.ceil(admission.retryAfterMs / 1000)))
    // Only OpenAI sends the millisecond form.
    if (policy.headers === 'openai') out['retry-after-ms'] = String(Math.ceil(admission.retryAfterMs))
  }
}

function addOpenAi(out: Headers, dimension: 'requests' | 'tokens', s: LimiterState): void {
  out[`x-ratelimit-limit-${dimension}`] = String(s.limit)
  out[`x-ratelimit-remaining-${dimension}`] = String(s.remaining)
  out[`x-ratelimit-reset-${dimension}`] = goDuration(s.resetMs)
}

function addAnthropic(out: Headers, dimension: 'requests' | 'tokens', s: LimiterState, nowMs: number): void {
  out[`anthropic-ratelimit-${dimension}-limit`] = String(s.limit)
  out[`anthropic-ratelimit-${dimension}-remaining`] = String(s.remaining)
  out[`anthropic-ratelimit-${dimension}-reset`] = rfc3339Seconds(nowMs + s.resetMs)
}

/** Anthropic writes whole seconds ("2024-03-19T16:42:48Z"); round up so the instant is never early. */
function rfc3339Seconds(ms: number): string {
  return new Date(Math.ceil(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z')
}
