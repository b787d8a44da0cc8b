import { describe, expect, it } from 'vitest'
import { SecretIndex } from '../../../../src/core/secrets/secret-index.js'
import { scrubText, scrubUpstreamError } from '../../../../src/stages/forward/scrub.js'

const canary = 'sk-canary-0123456789abcdef0123456789abcdef'
const azureKey = '0123456789abcdef0123456789abcdef'
const plainSecret = 'hunter2-plain' // configured, but not credential-shaped
const secrets = new SecretIndex([canary, azureKey, plainSecret])

const body = (value: unknown): Buffer => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value))

/** Every string that must never reach a client, whatever field it was placed in. */
const forbidden = [canary, azureKey, plainSecret, 'sk-proj-abcdefghijkl', 'nvapi-abcdefghijkl', 'xyz-bearer-token', 'abc-api-key-value', 'rawtokenvalue']

// Each message embeds one credential the way upstreams and misconfigured proxies echo them.
const leakyTexts: { name: string; text: string }[] = [
  { name: 'the configured secret', text: `Incorrect API key provided: ${canary}.` },
  { name: 'the configured secret twice', text: `${canary} and again ${canary}` },
  { name: 'a non-credential-shaped configured secret', text: `password ${plainSecret} rejected` },
  { name: 'an OpenAI-style key', text: 'Incorrect API key provided: sk-proj-abcdefghijkl.' },
  { name: 'a masked OpenAI key', text: 'Incorrect API key provided: sk-proj-********************ijkl.' },
  { name: 'an NVIDIA key', text: 'invalid key nvapi-abcdefghijkl' },
  { name: 'a Bearer header', text: 'Authorization: Bearer xyz-bearer-token was rejected' },
  { name: 'a lower-case bearer', text: 'got bearer xyz-bearer-token' },
  { name: 'an api-key header', text: 'header api-key: abc-api-key-value is invalid' },
  { name: 'an x-api-key header', text: 'x-api-key=abc-api-key-value' },
  { name: 'an authorization header without scheme', text: 'authorization: rawtokenvalue' },
  { name: 'a 32-hex Azure key', text: `Access denied due to invalid subscription key ${azureKey}.` },
  { name: 'a longer opaque token', text: `token ${azureKey}${azureKey}` },
]

describe('scrubText', () => {
  for (const c of leakyTexts) {
    it(`removes ${c.name}`, () => {
      const out = scrubText(c.text, secrets)
      for (const f of forbidden) expect(out).not.toContain(f)
      expect(out).toContain('[redacted]')
    })
  }

  it('leaves ordinary text alone', () => {
    const text = "This model's maximum context length is 8192 tokens. However, you requested 9000 tokens."
    expect(scrubText(text, secrets)).toBe(text)
  })

  it('ignores configured values shorter than 8 characters (placeholders such as "none")', () => {
    expect(scrubText('none of a b c', new SecretIndex(['none', 'a', 'b']))).toBe('none of a b c')
  })
})

describe('scrubUpstreamError', () => {
  it('keeps message, type, code and param of an OpenAI-shaped body, and nothing else', () => {
    const raw = body({
      error: { message: 'max_tokens is too large', type: 'invalid_request_error', code: 'context_length_exceeded', param: 'max_tokens', internal: 'trace-123' },
      request_id: 'upstream-req',
    })
    expect(scrubUpstreamError(raw, 400, 'oa', secrets)).toStrictEqual({
      error: { message: 'max_tokens is too large', type: 'invalid_request_error', code: 'context_length_exceeded', param: 'max_tokens' },
    })
  })

  it('converts an Anthropic-shaped body', () => {
    const raw = body({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } })
    expect(scrubUpstreamError(raw, 529, 'an', secrets)).toStrictEqual({
      error: { message: 'Overloaded', type: 'overloaded_error', code: null, param: null },
    })
  })

  it('accepts an error given as a plain string', () => {
    const raw = body({ error: `bad key ${canary}` })
    const out = scrubUpstreamError(raw, 400, 'oa', secrets)
    expect(out.error.message).not.toContain(canary)
    expect(out.error.type).toBe('invalid_request_error')
  })

  const fallbackCases: { name: string; raw: string; status: number; type: string }[] = [
    { name: 'a non-JSON body', raw: `<html>502 Bad Gateway ${canary}</html>`, status: 400, type: 'invalid_request_error' },
    { name: 'an empty body', raw: '', status: 404, type: 'invalid_request_error' },
    { name: 'JSON without error', raw: JSON.stringify({ detail: `key ${canary}` }), status: 422, type: 'invalid_request_error' },
    { name: 'a JSON array', raw: JSON.stringify([canary]), status: 400, type: 'invalid_request_error' },
    { name: 'JSON null', raw: 'null', status: 400, type: 'invalid_request_error' },
    { name: 'a 429 without body', raw: '', status: 429, type: 'rate_limit_error' },
  ]
  for (const c of fallbackCases) {
    it(`${c.name} gives a generic message naming provider and status`, () => {
      expect(scrubUpstreamError(body(c.raw), c.status, 'nim', secrets)).toStrictEqual({
        error: { message: `Upstream nim returned HTTP ${c.status}`, type: c.type, code: null, param: null },
      })
    })
  }

  for (const c of leakyTexts) {
    it(`removes ${c.name} from message and param`, () => {
      const raw = body({ error: { message: c.text, param: c.text, type: 'invalid_request_error', code: 'invalid_api_key' } })
      const out = scrubUpstreamError(raw, 401, 'oa', secrets)
      const text = JSON.stringify(out)
      for (const f of forbidden) expect(text).not.toContain(f)
      expect(out.error.code).toBe('invalid_api_key')
    })
  }

  const unsafeCodes: { code: unknown; expected: string | null }[] = [
    { code: 'has space', expected: null },
    { code: '<script>', expected: null },
    { code: 'x'.repeat(65), expected: null },
    { code: '', expected: null },
    { code: 'line\nbreak', expected: null },
    { code: { nested: true }, expected: null },
    { code: ['a'], expected: null },
    { code: true, expected: null },
    { code: 'rate_limit_exceeded', expected: 'rate_limit_exceeded' },
    { code: 'model.not-found_1', expected: 'model.not-found_1' },
    { code: 429, expected: '429' },
  ]
  for (const c of unsafeCodes) {
    it(`code ${JSON.stringify(c.code)} → ${JSON.stringify(c.expected)}`, () => {
      const out = scrubUpstreamError(body({ error: { message: 'm', code: c.code } }), 400, 'oa', secrets)
      expect(out.error.code).toBe(c.expected)
    })
  }

  const unsafeTypes = ['has space', '<b>', 'x'.repeat(65), '']
  for (const type of unsafeTypes) {
    it(`type ${JSON.stringify(type)} falls back to the status's type`, () => {
      expect(scrubUpstreamError(body({ error: { message: 'm', type } }), 429, 'oa', secrets).error.type).toBe('rate_limit_error')
    })
  }

  it('non-string message and param are replaced by defaults', () => {
    const out = scrubUpstreamError(body({ error: { message: { text: canary }, param: 7 } }), 400, 'oa', secrets)
    expect(out.error).toStrictEqual({ message: 'Upstream oa returned HTTP 400', type: 'invalid_request_error', code: null, param: null })
  })

  it('caps message and param length', () => {
    const out = scrubUpstreamError(body({ error: { message: 'word '.repeat(1000), param: 'p '.repeat(500) } }), 400, 'oa', secrets)
    expect(out.error.message.length).toBeLessThanOrEqual(2000)
    expect(out.error.param?.length).toBeLessThanOrEqual(200)
  })

  // A key such as sk-canary-… or a 32-hex Azure key matches the identifier shape of type/code.
  it('a configured secret in code or type does not survive', () => {
    const out = scrubUpstreamError(body({ error: { message: 'm', type: azureKey, code: canary } }), 401, 'oa', secrets)
    const text = JSON.stringify(out)
    expect(text).not.toContain(canary)
    expect(text).not.toContain(azureKey)
  })

  // Cutting before scrubbing would leave a prefix of a secret straddling the cut, which no
  // longer matches the secret nor the long-token shape.
  it('a secret cut by the length cap leaves no recognisable prefix', () => {
    const filler = 'word '.repeat(396) // 1980 characters
    const out = scrubUpstreamError(body({ error: { message: `${filler}${azureKey} tail` } }), 401, 'az', secrets)
    expect(out.error.message).not.toContain(azureKey.slice(0, 20))
  })
})
