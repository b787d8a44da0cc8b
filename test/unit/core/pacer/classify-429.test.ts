import type { OutgoingHttpHeaders } from 'node:http'
import { describe, expect, test } from 'vitest'
import { parseRateLimitHeaders, type HeaderBag, type LimitWindow, type RateLimitSnapshot } from '../../../../src/core/headers/rate-limits.js'
import { classify429, type RateLimitEvidence, type RateLimitKind } from '../../../../src/core/pacer/classify-429.js'
import type { KeyPolicy } from '../../../../src/simulator/config/compile.js'
import { dialects } from '../../../../src/simulator/dialects/dialect.js'
import { injected, quotaExhausted } from '../../../../src/simulator/dialects/problem.js'
import { addRateLimitHeaders } from '../../../../src/simulator/headers/rate-limit-headers.js'
import type { Admission, RefusalKind } from '../../../../src/simulator/keys/key-limits.js'
import { refusalProblem } from '../../../../src/simulator/keys/refusal.js'
import type { RateLimitHeaderMode } from '../../../../src/simulator/types.js'

const base: RateLimitEvidence = { status: 429, body: '', snapshot: null, requestTokens: 500, inflight: 1, concurrencyLimit: null, nearRateTarget: false }

const win = (remaining: number | null, limit: number | null = null): LimitWindow => ({ limit, remaining, resetInMs: 1000 })
const snap = (s: Partial<RateLimitSnapshot>): RateLimitSnapshot =>
  ({ requests: null, tokens: null, inputTokens: null, outputTokens: null, retryAfterMs: null, ...s })

const openAiBody = (type: string | null, code: string | null, message: string): string => JSON.stringify({ error: { message, type, param: null, code } })
const anthropicBody = (type: string, message: string): string => JSON.stringify({ type: 'error', error: { type, message } })

const budget = snap({ requests: win(40, 60), tokens: win(20_000, 30_000) })

describe('classify429', () => {
  const cases: Array<{ name: string, e: Partial<RateLimitEvidence>, kind: RateLimitKind }> = [
    // 1. quota
    { name: 'insufficient_quota code', e: { body: openAiBody('insufficient_quota', 'insufficient_quota', 'You exceeded your current quota') }, kind: 'quota' },
    { name: 'insufficient_quota type only', e: { body: openAiBody('insufficient_quota', null, 'quota') }, kind: 'quota' },
    { name: 'billing_hard_limit_reached', e: { body: openAiBody('invalid_request_error', 'billing_hard_limit_reached', 'Billing hard limit has been reached') }, kind: 'quota' },
    { name: 'billing_not_active', e: { body: openAiBody('billing_not_active', null, 'Your account is not active') }, kind: 'quota' },
    { name: 'quota beats remaining-requests 0', e: { body: openAiBody('insufficient_quota', 'insufficient_quota', 'quota'), snapshot: snap({ requests: win(0, 60) }) }, kind: 'quota' },
    { name: 'quota top-level fields', e: { body: JSON.stringify({ code: 'insufficient_quota', message: 'quota' }) }, kind: 'quota' },
    // 2. overload
    { name: '529', e: { status: 529, body: anthropicBody('overloaded_error', 'Overloaded') }, kind: 'overload' },
    { name: '529 with an empty body', e: { status: 529 }, kind: 'overload' },
    { name: '429 overloaded_error', e: { body: anthropicBody('overloaded_error', 'Overloaded'), inflight: 5, concurrencyLimit: 5 }, kind: 'overload' },
    { name: '529 beats remaining-requests 0', e: { status: 529, snapshot: snap({ requests: win(0) }) }, kind: 'overload' },
    { name: '503 overloaded_error', e: { status: 503, body: anthropicBody('overloaded_error', 'Overloaded') }, kind: 'overload' },
    { name: '503 "server is overloaded"', e: { status: 503, body: openAiBody('server_error', null, 'The server is overloaded or not ready yet.') }, kind: 'overload' },
    { name: '503 "Slow Down"', e: { status: 503, body: openAiBody('server_error', null, 'Slow Down') }, kind: 'overload' },
    { name: '503 without an overload body', e: { status: 503, body: 'Service Unavailable', nearRateTarget: true }, kind: 'unknown' },
    { name: '500 is not a rate limit', e: { status: 500, body: openAiBody('server_error', null, 'oops'), snapshot: snap({ requests: win(0) }) }, kind: 'unknown' },
    // 3. rpm by headers
    { name: 'remaining-requests 0', e: { snapshot: snap({ requests: win(0, 60), tokens: win(20_000) }), inflight: 4 }, kind: 'rpm' },
    { name: 'remaining-requests 0 beats tokens short', e: { snapshot: snap({ requests: win(0), tokens: win(10) }) }, kind: 'rpm' },
    // 4. tpm
    { name: 'remaining-tokens below cost', e: { snapshot: snap({ requests: win(40), tokens: win(499) }) }, kind: 'tpm' },
    { name: 'remaining-tokens equal to cost is not short', e: { snapshot: snap({ requests: win(40), tokens: win(500) }), inflight: 1 }, kind: 'unknown' },
    { name: 'TPM 429 with requests left and 2+ in flight is tpm (the Aether bug)', e: { snapshot: snap({ requests: win(40, 60), tokens: win(100, 30_000) }), inflight: 3, concurrencyLimit: 3 }, kind: 'tpm' },
    { name: 'Anthropic input tokens short', e: { snapshot: snap({ requests: win(40), tokens: win(90_000), inputTokens: win(200) }), inflight: 3 }, kind: 'tpm' },
    { name: 'Anthropic output tokens short', e: { snapshot: snap({ requests: win(40), outputTokens: win(0) }), inflight: 3 }, kind: 'tpm' },
    { name: 'tokens 0 with no estimate', e: { snapshot: snap({ tokens: win(0) }), requestTokens: 0, inflight: 3 }, kind: 'tpm' },
    { name: 'OpenAI type tokens', e: { body: openAiBody('tokens', 'rate_limit_exceeded', 'Rate limit reached'), snapshot: budget, inflight: 3 }, kind: 'tpm' },
    { name: 'OpenAI type requests', e: { body: openAiBody('requests', 'rate_limit_exceeded', 'Rate limit reached'), snapshot: budget, inflight: 3 }, kind: 'rpm' },
    { name: 'message: tokens per min (TPM)', e: { body: JSON.stringify({ error: { code: '429', message: 'Rate limit reached on tokens per min (TPM): Limit 1000' } }), inflight: 3, nearRateTarget: true }, kind: 'tpm' },
    { name: 'message: Azure token rate limit', e: { body: JSON.stringify({ error: { code: '429', message: 'Requests to the ChatCompletions_Create Operation have exceeded token rate limit of your current pricing tier.' } }), snapshot: budget, inflight: 3 }, kind: 'tpm' },
    { name: 'message: Azure call rate limit', e: { body: JSON.stringify({ error: { code: '429', message: 'Requests have exceeded call rate limit of your current pricing tier.' } }), snapshot: budget, inflight: 3 }, kind: 'rpm' },
    { name: 'message: Anthropic input tokens per minute', e: { body: anthropicBody('rate_limit_error', 'This request would exceed the rate limit for your organization of 50,000 input tokens per minute.'), inflight: 3 }, kind: 'tpm' },
    { name: 'message: Anthropic requests per minute', e: { body: anthropicBody('rate_limit_error', 'This request would exceed your organization\'s rate limit of 50 requests per minute.'), inflight: 3 }, kind: 'rpm' },
    // 5. concurrency in the body
    { name: 'type requests but message says concurrent', e: { body: openAiBody('requests', 'rate_limit_exceeded', 'Too many concurrent requests for gpt-4o'), snapshot: budget }, kind: 'concurrent' },
    { name: 'Anthropic concurrent connections', e: { body: anthropicBody('rate_limit_error', 'Number of concurrent connections has exceeded your rate limit.') }, kind: 'concurrent' },
    { name: 'plain text: parallel requests', e: { body: 'Too many parallel requests', nearRateTarget: true }, kind: 'concurrent' },
    { name: 'concurrency mention loses to remaining-requests 0', e: { body: 'Too many concurrent requests', snapshot: snap({ requests: win(0) }) }, kind: 'rpm' },
    // 6. headers with budget left
    { name: 'headers with budget, 2 in flight', e: { snapshot: budget, inflight: 2 }, kind: 'concurrent' },
    { name: 'headers with budget, alone in flight', e: { snapshot: budget, inflight: 1, nearRateTarget: true }, kind: 'unknown' },
    { name: 'headers with budget, long retry-after', e: { snapshot: snap({ ...budget, retryAfterMs: 60_000 }), inflight: 4 }, kind: 'unknown' },
    { name: 'headers with budget, short retry-after', e: { snapshot: snap({ ...budget, retryAfterMs: 1000 }), inflight: 4 }, kind: 'concurrent' },
    { name: 'Azure: remaining-requests only', e: { snapshot: snap({ requests: win(19) }), inflight: 2 }, kind: 'concurrent' },
    // 7. no rate headers
    { name: 'no headers, near the rate target', e: { nearRateTarget: true, inflight: 4, concurrencyLimit: 4 }, kind: 'rpm' },
    { name: 'no headers, at the concurrency limit', e: { inflight: 4, concurrencyLimit: 4 }, kind: 'concurrent' },
    { name: 'no headers, at the concurrency limit, above what the key recently took at once', e: { inflight: 4, concurrencyLimit: 4, acceptedInflight: 3 }, kind: 'concurrent' },
    { name: 'no headers, at the limit but no more than the key recently took at once (a rate limit)', e: { inflight: 4, concurrencyLimit: 4, acceptedInflight: 4 }, kind: 'unknown' },
    { name: 'no headers, one below the concurrency limit', e: { inflight: 3, concurrencyLimit: 4 }, kind: 'concurrent' },
    { name: 'no headers, well below the concurrency limit', e: { inflight: 2, concurrencyLimit: 8 }, kind: 'unknown' },
    { name: 'no headers, limit 2 but alone in flight', e: { inflight: 1, concurrencyLimit: 2 }, kind: 'unknown' },
    { name: 'no headers, no known limit', e: { inflight: 6 }, kind: 'unknown' },
    { name: 'no headers, well below the limit, the third UNKNOWN within 60 s', e: { inflight: 4, concurrencyLimit: 8, recentUnknown429s: 2 }, kind: 'concurrent' },
    { name: 'no headers, well below the limit, the second UNKNOWN within 60 s', e: { inflight: 4, concurrencyLimit: 8, recentUnknown429s: 1 }, kind: 'unknown' },
    { name: 'no headers, the third UNKNOWN, but at a level the key recently took at once', e: { inflight: 4, concurrencyLimit: 8, acceptedInflight: 4, recentUnknown429s: 2 }, kind: 'unknown' },
    { name: 'no headers, the third UNKNOWN, alone in flight', e: { inflight: 1, recentUnknown429s: 5 }, kind: 'unknown' },
    { name: 'no headers, the third UNKNOWN, near the rate target', e: { inflight: 4, nearRateTarget: true, recentUnknown429s: 2 }, kind: 'rpm' },
    { name: 'only retry-after counts as no headers', e: { snapshot: snap({ retryAfterMs: 1000 }), nearRateTarget: true }, kind: 'rpm' },
    { name: 'limits without remaining count as no headers', e: { snapshot: snap({ requests: win(null, 60) }), inflight: 4 }, kind: 'unknown' },
    // bodies that are not what we expect
    { name: 'HTML body', e: { body: '<html><body>429 Too Many Requests</body></html>', inflight: 3 }, kind: 'unknown' },
    { name: 'truncated JSON', e: { body: '{"error":{"message":"Rate limit', inflight: 3 }, kind: 'unknown' },
    { name: 'JSON array wrapper', e: { body: JSON.stringify([{ error: { code: 'insufficient_quota', message: 'quota' } }]) }, kind: 'quota' },
    { name: 'error as a string', e: { body: JSON.stringify({ error: 'Too many concurrent requests' }) }, kind: 'concurrent' },
    { name: 'JSON null', e: { body: 'null', inflight: 3 }, kind: 'unknown' },
    { name: 'numeric code', e: { body: JSON.stringify({ error: { code: 429, message: 'slow' } }), inflight: 3 }, kind: 'unknown' },
  ]
  for (const c of cases) test(`${c.name} → ${c.kind}`, () => expect(classify429({ ...base, ...c.e })).toBe(c.kind))
})

// End to end with what our own simulator sends: its refusal body in each dialect and its headers
// in each mode, parsed by the gateway's parser. The evidence from our own state is set to mislead
// (near the rate target, at the concurrency limit), so only the upstream's evidence can be right.
describe('classify429 on simulator 429s', () => {
  const now = Date.parse('2024-03-19T16:42:00Z')
  const tokenCost = 500
  const admissions: Record<RefusalKind, Admission> = {
    rpm: { refused: 'rpm', retryAfterMs: 20_000, requests: { limit: 3, remaining: 0, resetMs: 20_000 }, tokens: { limit: 10_000, remaining: 9000, resetMs: 6000 } },
    tpm: { refused: 'tpm', retryAfterMs: 18_000, requests: { limit: 60, remaining: 50, resetMs: 10_000 }, tokens: { limit: 1000, remaining: 200, resetMs: 48_000 } },
    concurrent: { refused: 'concurrent', retryAfterMs: 1000, requests: { limit: 60, remaining: 50, resetMs: 10_000 }, tokens: { limit: 10_000, remaining: 9000, resetMs: 6000 } },
  }
  const policy = (headers: RateLimitHeaderMode): KeyPolicy => ({
    key: 'sk-sim', id: 'k1', rpm: 60, tpm: 10_000, algorithm: 'token-bucket', maxConcurrent: 4, headers, retryAfter: true, revoked: false, quotaExhausted: false, errorRate: 0,
  })
  const modes: RateLimitHeaderMode[] = ['openai', 'azure', 'anthropic', 'none']
  const kinds: RefusalKind[] = ['rpm', 'tpm', 'concurrent']

  for (const mode of modes) {
    for (const dialect of Object.values(dialects)) {
      for (const kind of kinds) {
        test(`${mode} headers, ${dialect.name} body, ${kind}`, () => {
          const out: OutgoingHttpHeaders = {}
          const admission = admissions[kind]
          addRateLimitHeaders(out, policy(mode), admission, now)
          const body = dialect.errorBody(refusalProblem(kind, admission, policy(mode), 'gpt-4o', tokenCost))
          const snapshot = parseRateLimitHeaders(out as HeaderBag, now)
          expect(classify429({ status: 429, body, snapshot, requestTokens: tokenCost, inflight: 4, concurrencyLimit: 4, nearRateTarget: true })).toBe(kind)
        })
      }
      test(`${mode} headers, ${dialect.name} body, quota`, () => {
        const body = dialect.errorBody(quotaExhausted())
        expect(classify429({ ...base, body, snapshot: snap({ requests: win(0) }), inflight: 4, concurrencyLimit: 4, nearRateTarget: true })).toBe('quota')
      })
    }
  }

  for (const dialect of Object.values(dialects)) {
    for (const status of [529, 503]) {
      test(`${dialect.name} injected ${status} → overload`, () => {
        expect(classify429({ ...base, status, body: dialect.errorBody(injected(status)) })).toBe('overload')
      })
    }
  }
})
