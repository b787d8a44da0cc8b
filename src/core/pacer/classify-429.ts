import type { LimitWindow, RateLimitSnapshot } from '../headers/rate-limits.js'

// Which limit a 429 hit (DESIGN.md §6 "429 typing", research/algorithms.md §2.4). The answer
// decides who reacts: QUOTA disables the key, OVERLOAD retreats every key of the provider, RPM
// and TPM retreat one pacer dimension, CONCURRENT shrinks the learned concurrency limit, and
// UNKNOWN only retreats the pacer. Typing a rate 429 as CONCURRENT (Aether's bug: a TPM 429
// with requests left and two in flight) shrinks the wrong limit, so every rule that reads
// explicit evidence — body codes, header budgets, the upstream's own words — runs before the
// rules that infer from in-flight counts and pacing state.

export type RateLimitKind = 'rpm' | 'tpm' | 'concurrent' | 'quota' | 'overload' | 'unknown'

export interface RateLimitEvidence {
  /** 429 normally; 529 (Anthropic overloaded) and 503 with an overload body also classify. */
  readonly status: number
  /** Raw upstream error body, maybe empty, maybe not JSON, at most 64 KB. */
  readonly body: string
  readonly snapshot: RateLimitSnapshot | null
  /** This request's estimated token cost (input estimate + max_tokens or reserve). */
  readonly requestTokens: number
  /** Requests in flight on this key when this one was dispatched, itself included. */
  readonly inflight: number
  /** The key's concurrency limit when one is known (fixed or learned), else null. */
  readonly concurrencyLimit: number | null
  /**
   * The highest in-flight level at which the key recently answered successfully (0 = none). A
   * refusal at or below it was not about concurrency: the upstream took that many at once.
   */
  readonly acceptedInflight?: number
  /** The key's measured request rate is ≥ 0.9 × its pacing target. */
  readonly nearRateTarget: boolean
  /** UNKNOWN 429s on this key in the 60 s before this one. */
  readonly recentUnknown429s?: number
}

/** This many UNKNOWN 429s within 60 s, this one included, away from the rate target: CONCURRENT. */
export const unknownBurstToConcurrent = 3
export const unknownBurstWindowMs = 60_000

/** Billing, not rate: waiting never helps, so these must never be retried. */
const QUOTA_CODES: ReadonlySet<string> = new Set(['insufficient_quota', 'billing_hard_limit_reached', 'billing_not_active'])
const CONCURRENCY_WORDS = /concurren|parallel requests/i
/** OpenAI's and our simulator's 503 "The server is overloaded or not ready yet.", and OpenAI's "Slow Down". */
const OVERLOAD_WORDS = /overloaded|slow down/i
/**
 * How upstreams name the exhausted dimension in prose, for dialects that do not put it in
 * `type`: OpenAI and the simulator "on tokens per min (TPM)", Anthropic "input tokens per
 * minute", Azure "exceeded token rate limit" / "exceeded call rate limit".
 */
const TOKEN_WORDS = /tokens per min|\(TPM\)|token rate limit/i
const REQUEST_WORDS = /requests per min|\(RPM\)|call rate limit/i
/**
 * A concurrency refusal frees up when any request finishes, so it asks for a short wait; a long
 * Retry-After points at a rate window instead (Aether's bound).
 */
const CONCURRENT_MAX_RETRY_AFTER_MS = 30_000

interface ErrorFields {
  readonly code: string | null
  readonly type: string | null
  readonly message: string
}

const NO_FIELDS: ErrorFields = { code: null, type: null, message: '' }

export function classify429(e: RateLimitEvidence): RateLimitKind {
  const body = errorFields(e.body)
  if (e.status !== 429 && e.status !== 529) {
    const overloaded = body.type === 'overloaded_error' || OVERLOAD_WORDS.test(body.message)
    return overloaded ? 'overload' : 'unknown'
  }
  if (isQuota(body)) return 'quota'
  if (e.status === 529 || body.type === 'overloaded_error') return 'overload'

  const s = e.snapshot
  if (s?.requests?.remaining === 0) return 'rpm'
  // A window that shows 0 left is spent even when the caller's estimate is 0.
  const cost = Math.max(1, e.requestTokens)
  if (isShort(s?.tokens, cost) || isShort(s?.inputTokens, cost) || isShort(s?.outputTokens, cost)) return 'tpm'

  // OpenAI names the exhausted dimension in `type` ('requests' | 'tokens'), but refuses
  // concurrency with the requests shape too, so the message is read before trusting 'requests'.
  if (body.type === 'tokens') return 'tpm'
  if (CONCURRENCY_WORDS.test(body.message)) return 'concurrent'
  if (body.type === 'requests') return 'rpm'
  if (TOKEN_WORDS.test(body.message)) return 'tpm'
  if (REQUEST_WORDS.test(body.message)) return 'rpm'

  if (s !== null && hasBudget(s)) {
    // The headers say budget remains (the checks above found none spent): with others in flight
    // the refusal can only be about how many run at once.
    const shortWait = s.retryAfterMs === null || s.retryAfterMs <= CONCURRENT_MAX_RETRY_AFTER_MS
    return e.inflight >= 2 && shortWait ? 'concurrent' : 'unknown'
  }

  // No rate headers (NVIDIA NIM, DeepSeek, stripped by a reseller): infer from our own state.
  if (e.nearRateTarget) return 'rpm'
  const aboveTaken = e.inflight >= 2 && e.inflight > (e.acceptedInflight ?? 0)
  if (aboveTaken && e.concurrencyLimit !== null && e.inflight >= e.concurrencyLimit - 1) return 'concurrent'
  // Refusals that keep coming below the rate target, at levels the upstream has not taken lately,
  // are most likely a cap on requests at once that L is still far above (a fresh key learning
  // from 8 against a cap of 3): research/algorithms.md §2.4, rule 7.
  if (aboveTaken && (e.recentUnknown429s ?? 0) >= unknownBurstToConcurrent - 1) return 'concurrent'
  return 'unknown'
}

function isQuota(f: ErrorFields): boolean {
  return (f.code !== null && QUOTA_CODES.has(f.code)) || (f.type !== null && QUOTA_CODES.has(f.type))
}

function isShort(w: LimitWindow | null | undefined, cost: number): boolean {
  return w?.remaining != null && w.remaining < cost
}

/** Headers that state a remaining budget in some window; a bare Retry-After is not one. */
function hasBudget(s: RateLimitSnapshot): boolean {
  return s.requests?.remaining != null || s.tokens?.remaining != null
    || s.inputTokens?.remaining != null || s.outputTokens?.remaining != null
}

/**
 * code, type and message of an error body in OpenAI's `{error:{code,type,message}}`, Azure's
 * `{error:{code:'429',message}}` or Anthropic's `{type:'error',error:{type,message}}` shape.
 * Anything that is not JSON (an HTML page from a proxy, a truncated body) is all message.
 */
function errorFields(body: string): ErrorFields {
  if (body === '') return NO_FIELDS
  let parsed: unknown
  try {
    parsed = JSON.parse(body)
  } catch {
    return { code: null, type: null, message: body }
  }
  // Some upstreams wrap the error in a one-element array.
  const root = Array.isArray(parsed) ? (parsed[0] as unknown) : parsed
  if (typeof root === 'string') return { code: null, type: null, message: root }
  if (!isRecord(root)) return NO_FIELDS
  const error = root.error
  if (typeof error === 'string') return { code: null, type: null, message: error }
  if (isRecord(error)) return { code: text(error.code), type: text(error.type), message: text(error.message) ?? '' }
  // No error object: some OpenAI-compatible servers put the fields at the top level. Anthropic's
  // top-level `type` is always 'error' and only appears with an error object, handled above.
  return { code: text(root.code), type: text(root.type), message: text(root.message) ?? text(root.detail) ?? '' }
}

function isRecord(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function text(value: unknown): string | null {
  return typeof value === 'string' ? value : null
}
