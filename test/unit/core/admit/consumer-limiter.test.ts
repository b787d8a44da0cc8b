import { describe, expect, test } from 'vitest'
import { ConsumerLimiter, rateLimitHeaderNames } from '../../../../src/core/admit/consumer-limiter.js'
import { parseRateLimitHeaders } from '../../../../src/core/headers/rate-limits.js'

const T0 = 1_000_000

/** Flat [name, value, …] → an object, as a client sees the response headers. */
function asObject(flat: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (let i = 0; i < flat.length; i += 2) out[flat[i] ?? ''] = flat[i + 1] ?? ''
  return out
}

describe('ConsumerLimiter: admit', () => {
  test('RPM 5: six requests give five admits with remaining 4…0 in the headers, then a refusal for 12 s', () => {
    const l = new ConsumerLimiter({ rpm: 5, tpm: null })
    const remaining: string[] = []
    for (let i = 0; i < 5; i++) {
      expect(l.admit(T0 + i, 10).ok).toBe(true)
      remaining.push(asObject(l.headers(T0 + i))['x-ratelimit-remaining-requests'] ?? '')
    }
    expect(remaining).toEqual(['4', '3', '2', '1', '0'])
    const d = l.admit(T0 + 5, 10)
    expect({ ...d }).toEqual({ ok: false, refusedBy: 'requests', tooLarge: false, retryAfterMs: 12_000 - 5 })
    expect(asObject(l.headers(T0 + 5))).toEqual({
      'x-ratelimit-limit-requests': '5',
      'x-ratelimit-remaining-requests': '0',
      'x-ratelimit-reset-requests': '59.995s',
    })
  })

  test('refused for tokens: no request slot is taken', () => {
    const l = new ConsumerLimiter({ rpm: 10, tpm: 1000 })
    expect(l.admit(T0, 800).ok).toBe(true)
    expect({ ...l.admit(T0, 300) }).toEqual({ ok: false, refusedBy: 'tokens', tooLarge: false, retryAfterMs: 6000 })
    expect(l.requests?.peek(T0).remaining).toBe(9)
    expect(l.tokens?.peek(T0).remaining).toBe(200)
  })

  test('refused for requests: no tokens are taken', () => {
    const l = new ConsumerLimiter({ rpm: 1, tpm: 1000 })
    expect(l.admit(T0, 10).ok).toBe(true)
    expect({ ...l.admit(T0, 10) }).toEqual({ ok: false, refusedBy: 'requests', tooLarge: false, retryAfterMs: 60_000 })
    expect(l.tokens?.peek(T0).remaining).toBe(990)
  })

  test('both refuse: the retry time is the later of the two, and names that dimension', () => {
    const a = new ConsumerLimiter({ rpm: 1, tpm: 100 })
    a.admit(T0, 100)
    // requests: 60 s; tokens: 50 over at 100/min = 30 s.
    expect({ ...a.admit(T0, 50) }).toMatchObject({ ok: false, refusedBy: 'requests', retryAfterMs: 60_000 })

    const b = new ConsumerLimiter({ rpm: 1, tpm: 100 })
    b.admit(T0, 100)
    b.settle(T0, 100, 300) // 300 used: 200 over the limit
    // requests: 60 s; tokens: 300 + 10 − 100 = 210 over at 100/min = 126 s.
    expect({ ...b.admit(T0, 10) }).toMatchObject({ ok: false, refusedBy: 'tokens', retryAfterMs: 126_000 })
  })

  test('an estimate above the TPM is tooLarge: no retry time, nothing taken', () => {
    const l = new ConsumerLimiter({ rpm: 5, tpm: 1000 })
    expect({ ...l.admit(T0, 1001) }).toEqual({ ok: false, refusedBy: 'tokens', tooLarge: true, retryAfterMs: null })
    expect(l.requests?.peek(T0).remaining).toBe(5)
    // …even when the requests dimension refuses too: waiting would not help.
    for (let i = 0; i < 5; i++) l.admit(T0, 1)
    expect(l.admit(T0, 5000)).toMatchObject({ tooLarge: true, retryAfterMs: null })
  })

  test('an admit after a refusal reports success again', () => {
    const l = new ConsumerLimiter({ rpm: 1, tpm: null })
    l.admit(T0, 0)
    expect(l.admit(T0, 0).ok).toBe(false)
    expect({ ...l.admit(T0 + 60_000, 0) }).toEqual({ ok: true, refusedBy: null, tooLarge: false, retryAfterMs: 0 })
  })

  test('no limits: everything is admitted and no headers are sent', () => {
    const l = new ConsumerLimiter({ rpm: null, tpm: null })
    for (let i = 0; i < 1000; i++) expect(l.admit(T0, 1e9).ok).toBe(true)
    expect(l.headers(T0)).toEqual([])
    expect(l.requests).toBeNull()
    expect(l.tokens).toBeNull()
  })
})

describe('ConsumerLimiter: settle', () => {
  test('usage below the estimate frees tokens for the next request', () => {
    const l = new ConsumerLimiter({ rpm: null, tpm: 10_000 })
    expect(l.admit(T0, 6000).ok).toBe(true) // 1000 input + max_tokens 5000
    expect(l.admit(T0, 6000).ok).toBe(false)
    l.settle(T0 + 1000, 6000, 1200)
    expect(l.admit(T0 + 1000, 6000).ok).toBe(true)
  })

  test('usage above the estimate is debt: the next request waits for it', () => {
    const l = new ConsumerLimiter({ rpm: null, tpm: 6000 }) // 100 per s
    l.admit(T0, 1000)
    l.settle(T0, 1000, 9000)
    expect(asObject(l.headers(T0))['x-ratelimit-remaining-tokens']).toBe('0')
    // 9000 owed + 100 asked − 6000 room = 3100 tokens = 31 s.
    expect(l.admit(T0, 100)).toMatchObject({ ok: false, refusedBy: 'tokens', retryAfterMs: 31_000 })
    expect(l.admit(T0 + 31_000, 100).ok).toBe(true)
  })

  test('a request that never went upstream gives its whole estimate back', () => {
    const l = new ConsumerLimiter({ rpm: null, tpm: 1000 })
    l.admit(T0, 1000)
    l.settle(T0, 1000, 0)
    expect(l.tokens?.peek(T0)).toMatchObject({ remaining: 1000, resetMs: 0 })
  })

  test('settle without a TPM does nothing', () => {
    const l = new ConsumerLimiter({ rpm: 5, tpm: null })
    l.admit(T0, 100)
    l.settle(T0, 100, 5000)
    expect(l.admit(T0, 100).ok).toBe(true)
  })
})

describe('ConsumerLimiter: headers', () => {
  test('requests trio, then tokens trio, in OpenAI names and formats', () => {
    const l = new ConsumerLimiter({ rpm: 60, tpm: 150_000 })
    l.admit(T0, 1500)
    expect(l.headers(T0)).toEqual([
      'x-ratelimit-limit-requests', '60',
      'x-ratelimit-remaining-requests', '59',
      'x-ratelimit-reset-requests', '1s',
      'x-ratelimit-limit-tokens', '150000',
      'x-ratelimit-remaining-tokens', '148500',
      'x-ratelimit-reset-tokens', '600ms',
    ])
  })

  test('only the tokens trio when there is a TPM and no RPM', () => {
    const l = new ConsumerLimiter({ rpm: null, tpm: 1000 })
    l.admit(T0, 100)
    expect(l.headers(T0).filter((_, i) => i % 2 === 0)).toEqual([...rateLimitHeaderNames.tokens])
  })

  test('full bucket: reset 0s', () => {
    const l = new ConsumerLimiter({ rpm: 5, tpm: null })
    expect(asObject(l.headers(T0))).toEqual({ 'x-ratelimit-limit-requests': '5', 'x-ratelimit-remaining-requests': '5', 'x-ratelimit-reset-requests': '0s' })
  })

  test('the same array every call, rewritten in place', () => {
    const l = new ConsumerLimiter({ rpm: 5, tpm: 100 })
    const a = l.headers(T0)
    l.reconfigure(T0, { rpm: 5, tpm: null })
    const b = l.headers(T0)
    expect(b).toBe(a)
    expect(b.length).toBe(6)
  })

  test('sluice\'s own header parser reads them back as the standing they describe', () => {
    const l = new ConsumerLimiter({ rpm: 5, tpm: 40_000 })
    l.admit(T0, 30_000)
    l.admit(T0, 1)
    const parsed = parseRateLimitHeaders(asObject(l.headers(T0)), 0)
    expect(parsed?.requests).toEqual({ limit: 5, remaining: 3, resetInMs: 24_000 })
    expect(parsed?.tokens).toEqual({ limit: 40_000, remaining: 9999, resetInMs: 45_002 })
  })
})

describe('ConsumerLimiter: reconfigure', () => {
  test('turning a dimension on starts it full; off drops it; a changed limit keeps the use', () => {
    const l = new ConsumerLimiter({ rpm: 5, tpm: null })
    for (let i = 0; i < 3; i++) l.admit(T0, 100)
    l.reconfigure(T0, { rpm: 10, tpm: 1000 })
    expect(l.requests?.peek(T0).remaining).toBe(7)
    expect(l.tokens?.peek(T0).remaining).toBe(1000)
    l.reconfigure(T0, { rpm: null, tpm: 1000 })
    expect(l.requests).toBeNull()
    expect(l.admit(T0, 1000).ok).toBe(true)
  })
})
