import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { asSluiceError, codes, SluiceError, type ErrorCode } from '../../src/errors.js'

// Codes are API. Adding, removing or renaming one must come with a docs/errors.md update,
// so the count is pinned here and the docs table is compared row by row with the catalogue.
const expectedCodeCount = 43

interface DocRow {
  readonly code: string
  readonly status: number
  readonly type: string
}

function docRows(): DocRow[] {
  const text = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8')
  const rows: DocRow[] = []
  for (const line of text.split('\n')) {
    // A data row of the catalogue table: | `code` | 400 | `type` | when |
    const m = /^\|\s*`([^`]+)`\s*\|\s*(\d{3})\s*\|\s*`([^`]+)`\s*\|/.exec(line)
    if (m) rows.push({ code: m[1] as string, status: Number(m[2]), type: m[3] as string })
  }
  return rows
}

const allCodes = Object.keys(codes) as ErrorCode[]

describe('error catalogue', () => {
  it(`has exactly ${expectedCodeCount} codes (update docs/errors.md and this number together)`, () => {
    expect(allCodes).toHaveLength(expectedCodeCount)
  })

  it('docs/errors.md has one table row per code and no row without a code', () => {
    const rows = docRows()
    expect(rows.length).toBeGreaterThan(0)
    expect(rows.map((r) => r.code).sort()).toEqual([...allCodes].sort())
  })

  for (const code of allCodes) {
    it(`${code}: docs row matches status and type; status is 4xx/5xx; code is snake_case`, () => {
      const rows = docRows().filter((r) => r.code === code)
      expect(rows).toHaveLength(1)
      expect(rows[0]).toEqual({ code, status: codes[code].status, type: codes[code].type })
      expect(codes[code].status).toBeGreaterThanOrEqual(400)
      expect(codes[code].status).toBeLessThan(600)
      expect(code).toMatch(/^[a-z][a-z0-9_]*$/)
    })
  }
})

describe('SluiceError', () => {
  it('toAnthropicJSON gives Anthropic\'s shape, its type named by status', () => {
    expect(new SluiceError('model_not_found', ['gpt-5']).toAnthropicJSON()).toStrictEqual({
      type: 'error',
      error: { type: 'not_found_error', message: 'The model `gpt-5` does not exist or is not served by this gateway' },
    })
    expect(new SluiceError('queue_full', ['m', 'x']).toAnthropicJSON().error.type).toBe('overloaded_error')
    expect(new SluiceError('upstream_error', ['p', 'x']).toAnthropicJSON().error.type).toBe('api_error')
    expect(new SluiceError('rate_limit_exceeded', ['a', 'b']).toAnthropicJSON().error.type).toBe('rate_limit_error')
  })

  it('toJSON gives exactly the OpenAI error shape', () => {
    const err = new SluiceError('model_not_found', ['gpt-5'], { param: 'model' })
    const json = err.toJSON()
    expect(json).toStrictEqual({
      error: {
        message: 'The model `gpt-5` does not exist or is not served by this gateway',
        type: 'invalid_request_error',
        code: 'model_not_found',
        param: 'model',
      },
    })
    expect(Object.keys(json)).toEqual(['error'])
    expect(Object.keys(json.error).sort()).toEqual(['code', 'message', 'param', 'type'])
    expect(JSON.parse(JSON.stringify(err))).toStrictEqual(json)
  })

  it('param defaults to null and status/type come from the catalogue', () => {
    const err = new SluiceError('shutting_down', [], { retryAfter: 1 })
    expect(err.param).toBeNull()
    expect(err.toJSON().error.param).toBeNull()
    expect(err.status).toBe(503)
    expect(err.type).toBe('overloaded_error')
    expect(err.retryAfter).toBe(1)
    expect(err.name).toBe('SluiceError')
    expect(err).toBeInstanceOf(Error)
  })

  const formatCases: { code: ErrorCode; args: unknown[]; message: string }[] = [
    { code: 'upstream_timeout', args: ['sim', 60000, 'idle between chunks'], message: 'Upstream sim timed out after 60000ms (idle between chunks)' },
    { code: 'request_too_large', args: [10485760], message: 'Request body exceeds the limit of 10485760 bytes' },
    { code: 'invalid_header', args: ['host', 'duplicated'], message: 'Header host is not allowed: duplicated' },
    { code: 'not_found', args: ['GET', '/x'], message: 'Unknown route: GET /x' },
    // Missing arguments become empty strings, extra ones are ignored.
    { code: 'not_found', args: ['GET'], message: 'Unknown route: GET ' },
    { code: 'invalid_path', args: ['a', 'b'], message: 'Request path is not allowed: a' },
    { code: 'shutting_down', args: ['ignored'], message: 'The gateway is shutting down; retry on another instance' },
    // Placeholders inside an argument are not expanded again.
    { code: 'invalid_request_error', args: ['%s and %d'], message: '%s and %d' },
    { code: 'upstream_error', args: [null, undefined], message: 'Upstream  failed: ' },
  ]
  for (const c of formatCases) {
    it(`formats ${c.code} ${JSON.stringify(c.args)}`, () => {
      expect(new SluiceError(c.code, c.args).message).toBe(c.message)
    })
  }
})

describe('asSluiceError', () => {
  it('turns a plain Error into internal_error naming only the request id', () => {
    const original = new Error('db password=hunter2 at sk-canary-0123456789abcdef')
    const err = asSluiceError(original, 'req-42')
    expect(err).toBeInstanceOf(SluiceError)
    expect(err.code).toBe('internal_error')
    expect(err.status).toBe(500)
    expect(err.type).toBe('server_error')
    expect(err.message).toBe('Internal gateway error (request req-42)')
    expect(err.message).not.toContain('hunter2')
    expect(JSON.stringify(err)).not.toContain('hunter2')
    expect(JSON.stringify(err)).not.toContain('sk-canary')
    expect(err.cause).toBe(original)
  })

  it('wraps non-Error throwables the same way', () => {
    for (const thrown of ['boom secret', 42, null, undefined, { message: 'secret' }]) {
      const err = asSluiceError(thrown, 'r1')
      expect(err.code).toBe('internal_error')
      expect(err.message).toBe('Internal gateway error (request r1)')
    }
  })

  it('returns a SluiceError unchanged', () => {
    const err = new SluiceError('invalid_json', ['x'])
    expect(asSluiceError(err, 'r1')).toBe(err)
  })
})
