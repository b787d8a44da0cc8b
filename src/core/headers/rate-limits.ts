// Upstream rate-limit headers → one normalised snapshot (research/algorithms.md §0.1).
// This runs once per upstream response, so the common case (no such headers) is a few
// property lookups and no allocation, and every pattern is compiled once, here.

/** One limit window as the upstream described it. Times are relative to the response, in ms. */
export interface LimitWindow { readonly limit: number | null; readonly remaining: number | null; readonly resetInMs: number | null }

export interface RateLimitSnapshot {
  readonly requests: LimitWindow | null
  /** OpenAI/Azure x-ratelimit-*-tokens, Anthropic anthropic-ratelimit-tokens-*. */
  readonly tokens: LimitWindow | null
  /** anthropic-ratelimit-input-tokens-*. */
  readonly inputTokens: LimitWindow | null
  /** anthropic-ratelimit-output-tokens-*. */
  readonly outputTokens: LimitWindow | null
  /** From retry-after-ms (preferred) or retry-after (float seconds or HTTP date); null when absent or not positive. */
  readonly retryAfterMs: number | null
}

/** node's IncomingHttpHeaders shape: lower-case names. */
export type HeaderBag = Readonly<Record<string, string | string[] | undefined>>

interface WindowNames { readonly limit: string; readonly remaining: string; readonly reset: string }

const openAiNames = (dimension: string): WindowNames => ({
  limit: `x-ratelimit-limit-${dimension}`,
  remaining: `x-ratelimit-remaining-${dimension}`,
  reset: `x-ratelimit-reset-${dimension}`,
})

const anthropicNames = (dimension: string): WindowNames => ({
  limit: `anthropic-ratelimit-${dimension}-limit`,
  remaining: `anthropic-ratelimit-${dimension}-remaining`,
  reset: `anthropic-ratelimit-${dimension}-reset`,
})

const OPENAI_REQUESTS = openAiNames('requests')
const OPENAI_TOKENS = openAiNames('tokens')
const ANTHROPIC_REQUESTS = anthropicNames('requests')
const ANTHROPIC_TOKENS = anthropicNames('tokens')
const ANTHROPIC_INPUT = anthropicNames('input-tokens')
const ANTHROPIC_OUTPUT = anthropicNames('output-tokens')

/**
 * Longest wait we report. Upstreams have sent absurd values, and Node's timers overflow
 * above 2^31 − 1 ms (≈ 24.8 days) by firing at once — the opposite of waiting.
 */
const MAX_WAIT_MS = 24 * 60 * 60 * 1000

/** Unsigned decimal, so '-1', '1e3', '0x10' and '' (which Number() reads as 0) are all refused. */
const DECIMAL = /^\d+(?:\.\d+)?$/
/** Go's time.Duration text: OpenAI writes '6m0s', '12ms', '2m59.56s'. `m(?!s)` keeps '12ms' out of minutes. */
const GO_DURATION = /^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m(?!s))?(?:(\d+(?:\.\d+)?)s)?(?:(\d+(?:\.\d+)?)ms)?(?:(\d+(?:\.\d+)?)(?:us|µs|μs))?(?:(\d+(?:\.\d+)?)ns)?$/
/** Anthropic's resets. Gated by this pattern because Date.parse alone accepts almost anything. */
const RFC_3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/i
/**
 * IMF-fixdate ('Wed, 21 Oct 2015 07:28:00 GMT') and RFC 850 ('Sunday, 06-Nov-94 08:49:37 GMT').
 * asctime has no zone, so Date.parse would read it in the host's local time: refused.
 */
const HTTP_DATE = /^[a-z]{3,9}, [\w -]+ \d{2}:\d{2}:\d{2} GMT$/i

/** Milliseconds per unit, in GO_DURATION's group order. */
const GO_UNIT_MS = [3_600_000, 60_000, 1000, 1, 0.001, 0.000001] as const

/** null when the response carries none of these headers, or none of them parses. */
export function parseRateLimitHeaders(headers: HeaderBag, nowEpochMs: number): RateLimitSnapshot | null {
  // Both families on one response means an OpenAI-compatible layer in front of Anthropic; its
  // x-ratelimit-* window is the one our requests are paced against, so it wins. Input and output
  // windows exist only in Anthropic's family and are kept either way.
  const requests = readWindow(headers, OPENAI_REQUESTS, nowEpochMs) ?? readWindow(headers, ANTHROPIC_REQUESTS, nowEpochMs)
  const tokens = readWindow(headers, OPENAI_TOKENS, nowEpochMs) ?? readWindow(headers, ANTHROPIC_TOKENS, nowEpochMs)
  const inputTokens = readWindow(headers, ANTHROPIC_INPUT, nowEpochMs)
  const outputTokens = readWindow(headers, ANTHROPIC_OUTPUT, nowEpochMs)
  const retryAfterMs = parseRetryAfter(headers, nowEpochMs)
  if (requests === null && tokens === null && inputTokens === null && outputTokens === null && retryAfterMs === null) return null
  return { requests, tokens, inputTokens, outputTokens, retryAfterMs }
}

/** ms; '6m0s' → 360000, '12ms' → 12, '0s' → 0; a bare number has no unit and is null. */
export function parseGoDuration(text: string): number | null {
  if (text === '') return null
  const m = GO_DURATION.exec(text)
  if (m === null) return null
  let ms = 0
  for (let i = 0; i < GO_UNIT_MS.length; i++) {
    const part = m[i + 1]
    if (part !== undefined) ms += Number(part) * (GO_UNIT_MS[i] ?? 0)
  }
  // Binary floats turn '59.56s' into 59560.000000000007 ms; microsecond precision is plenty.
  return Math.round(ms * 1000) / 1000
}

/**
 * ms from now until a window resets. A bare number is seconds (Azure sends integers under the
 * same names OpenAI fills with Go durations, so the shape alone tells them apart); then a Go
 * duration (OpenAI); then an RFC 3339 instant (Anthropic), which can be in the past → 0.
 */
export function parseResetValue(text: string, nowEpochMs: number): number | null {
  const value = text.trim()
  if (DECIMAL.test(value)) return clampWait(Number(value) * 1000)
  const go = parseGoDuration(value)
  if (go !== null) return clampWait(go)
  if (RFC_3339.test(value)) {
    const at = Date.parse(value)
    if (Number.isFinite(at)) return clampWait(Math.max(0, at - nowEpochMs))
  }
  return null
}

/**
 * retry-after-ms (OpenAI, Azure; float ms) before retry-after (float seconds or HTTP date), as
 * openai-python reads them. A value that is not a positive wait means "no advice", so an invalid
 * retry-after-ms (Azure has sent -1 and 0) falls back to retry-after instead of hiding it.
 */
export function parseRetryAfter(headers: HeaderBag, nowEpochMs: number): number | null {
  const ms = firstValue(headers['retry-after-ms'])
  if (ms !== undefined) {
    const value = ms.trim()
    if (DECIMAL.test(value)) {
      const n = Number(value)
      if (n > 0) return clampWait(n)
    }
  }
  const text = firstValue(headers['retry-after'])
  if (text === undefined) return null
  const value = text.trim()
  if (DECIMAL.test(value)) {
    const seconds = Number(value)
    return seconds > 0 ? clampWait(seconds * 1000) : null
  }
  if (HTTP_DATE.test(value)) {
    const at = Date.parse(value)
    if (Number.isFinite(at) && at > nowEpochMs) return clampWait(at - nowEpochMs)
  }
  return null
}

/** A window when any of its three headers parses; null (and nothing allocated) otherwise. */
function readWindow(headers: HeaderBag, names: WindowNames, nowEpochMs: number): LimitWindow | null {
  const limitText = rateValue(headers[names.limit])
  const remainingText = rateValue(headers[names.remaining])
  const resetText = rateValue(headers[names.reset])
  if (limitText === undefined && remainingText === undefined && resetText === undefined) return null
  // Azure's Responses API has sent -1 and 0 where it had no figure: a limit of 0 would pace the
  // key to a standstill, so it means "unknown". A remaining of 0 is real and the most useful value.
  const limit = limitText === undefined ? null : count(limitText)
  const remaining = remainingText === undefined ? null : count(remainingText)
  const resetInMs = resetText === undefined ? null : parseResetValue(resetText, nowEpochMs)
  const window = { limit: limit === 0 ? null : limit, remaining, resetInMs }
  if (window.limit === null && remaining === null && resetInMs === null) return null
  return window
}

/** A finite non-negative number, or null for '-1' and garbage. */
function count(text: string): number | null {
  const value = text.trim()
  if (!DECIMAL.test(value)) return null
  const n = Number(value)
  return Number.isFinite(n) ? n : null
}

function firstValue(value: string | string[] | undefined): string | undefined {
  return typeof value === 'string' ? value : value?.[0]
}

/**
 * Node joins repeated unknown headers with ', ' ("20, 20"). None of the rate values (numbers,
 * Go durations, RFC 3339) contains a comma, so the first of them is the text before one.
 */
function rateValue(value: string | string[] | undefined): string | undefined {
  const text = firstValue(value)
  if (text === undefined) return undefined
  const comma = text.indexOf(',')
  return comma === -1 ? text : text.slice(0, comma)
}

function clampWait(ms: number): number {
  return Math.min(ms, MAX_WAIT_MS)
}
