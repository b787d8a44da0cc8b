import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectErrorBody, rawExchange, send, startWatchedStack, type RawAnswer, type WatchedStack } from '../../support/data-plane.js'

// What node:http refuses before a request reaches sluice's handler is still answered in the
// OpenAI error shape, with a request id, its status kept, and counted in the metrics. Sent on
// raw sockets: no client library would send these bytes.

function expectJsonRefusal(res: RawAnswer, status: number, code: string, param: string | null = null): void {
  expect(res.status, res.text).toBe(status)
  expect(res.headers['content-type']).toBe('application/json')
  expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/)
  expectErrorBody(res.json(), code, param)
}

describe('data plane: requests node:http cannot take', () => {
  let stack: WatchedStack
  beforeAll(async () => {
    stack = await startWatchedStack({
      gateway: (simUrl) => ({
        providers: { pass: { type: 'openai', base_url: `${simUrl}/v1`, keys: [{ id: 'p1', key: 'sk-pass-key-1' }] } },
        models: { 'test-model': { targets: [{ provider: 'pass', model: 'sim-model' }] } },
        passthrough: { provider: 'pass' },
      }),
    })
  })
  afterAll(async () => {
    expect(stack.sim.requests()).toHaveLength(0)
    await stack.close()
  })

  const malformed: { name: string; bytes: string }[] = [
    { name: 'an unknown method', bytes: 'FOO /v1/models HTTP/1.1\r\nHost: x\r\n\r\n' },
    { name: 'a lower-case method', bytes: 'get /v1/models HTTP/1.1\r\nHost: x\r\n\r\n' },
    { name: 'a bare CR in a header value', bytes: 'GET /v1/models HTTP/1.1\r\nHost: x\r\nX-A: b\rc\r\n\r\n' },
    { name: 'a bare LF inside a header line', bytes: 'GET /v1/models HTTP/1.1\r\nHost: x\r\nX-A: b\nc\r\n\r\n' },
    { name: 'a space before the colon', bytes: 'GET /v1/models HTTP/1.1\r\nHost : x\r\n\r\n' },
    { name: 'a non-numeric Content-Length', bytes: 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n' },
    { name: 'two different Content-Lengths', bytes: 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!' },
    { name: 'Content-Length and Transfer-Encoding', bytes: 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n' },
    { name: 'a Transfer-Encoding that does not end in chunked', bytes: 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n' },
    { name: 'a bad chunk size', bytes: 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n' },
    { name: 'an unknown HTTP version', bytes: 'GET /v1/models HTTP/7.1\r\nHost: x\r\n\r\n' },
    { name: 'a control character in the target', bytes: 'GET /v1/mo\x01dels HTTP/1.1\r\nHost: x\r\n\r\n' },
    { name: 'the HTTP/2 connection preface', bytes: 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n' },
    { name: 'garbage', bytes: '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http\r\n\r\n' },
  ]
  for (const c of malformed) {
    it(`${c.name} → 400 malformed_request in the OpenAI shape`, async () => {
      expectJsonRefusal(await rawExchange(stack.gw.port, c.bytes), 400, 'malformed_request')
    })
  }

  it('an HTTP/1.1 request without Host → 400 malformed_request (param host)', async () => {
    expectJsonRefusal(await rawExchange(stack.gw.port, 'GET /v1/models HTTP/1.1\r\n\r\n'), 400, 'malformed_request', 'host')
  })

  it('headers over 16 KB → 431 headers_too_large', async () => {
    const res = await rawExchange(stack.gw.port, `GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`)
    expectJsonRefusal(res, 431, 'headers_too_large')
  })

  it('an Expect other than 100-continue → 417 expectation_failed', async () => {
    const res = await rawExchange(stack.gw.port, 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\nContent-Length: 2\r\n\r\n{}')
    expectJsonRefusal(res, 417, 'expectation_failed', 'expect')
  })

  it('CONNECT → 405 method_not_allowed with Allow, instead of a closed socket', async () => {
    const res = await rawExchange(stack.gw.port, 'CONNECT api.openai.com:443 HTTP/1.1\r\nHost: api.openai.com:443\r\n\r\n')
    expectJsonRefusal(res, 405, 'method_not_allowed')
    expect(res.headers.allow).toBe('GET, POST, PUT, PATCH, DELETE, OPTIONS')
  })

  it('every refusal is counted in sluice_protocol_errors_total by code', async () => {
    const count = async (code: string): Promise<number> => {
      const text = (await send(stack.gw.url, '/metrics')).text
      const m = new RegExp(`^sluice_protocol_errors_total\\{code="${code}"\\} (\\d+)$`, 'm').exec(text)
      return m ? Number(m[1]) : 0
    }
    const before = await count('malformed_request')
    for (let i = 0; i < 3; i++) expect((await rawExchange(stack.gw.port, 'FOO / HTTP/1.1\r\n\r\n')).status).toBe(400)
    expect(await count('malformed_request')).toBe(before + 3)
    expect(await count('method_not_allowed')).toBeGreaterThanOrEqual(1)
    expect(await count('headers_too_large')).toBeGreaterThanOrEqual(1)
    expect(await count('expectation_failed')).toBeGreaterThanOrEqual(1)
  })
})

describe('data plane: server.request_timeout cuts slow headers and slow bodies', () => {
  const timeoutMs = 1_000
  let stack: WatchedStack
  beforeAll(async () => {
    stack = await startWatchedStack({
      gateway: (simUrl) => ({
        providers: { sim: { type: 'openai', base_url: `${simUrl}/v1`, keys: [{ id: 'k1', key: 'sk-sim-test-1' }] } },
        models: { 'test-model': { targets: [{ provider: 'sim', model: 'sim-model' }] } },
        server: { request_timeout: `${timeoutMs}ms` },
      }),
    })
  })
  afterAll(async () => {
    expect(stack.sim.requests()).toHaveLength(0)
    await stack.close()
  })

  // The cut comes when node:http next sweeps its connections (a tenth of the timeout here); the
  // upper bound only keeps the test from waiting for ever on a loaded machine.
  it('headers that never finish → JSON 408 request_timeout at request_timeout', async () => {
    const res = await rawExchange(stack.gw.port, 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nX-Slow: ')
    expectJsonRefusal(res, 408, 'request_timeout')
    expect(res.ms).toBeGreaterThanOrEqual(timeoutMs - 50)
    expect(res.ms).toBeLessThan(timeoutMs * 3)
  })

  it('a body that never finishes → JSON 408 request_timeout at request_timeout', async () => {
    const res = await rawExchange(stack.gw.port, 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"model":')
    expectJsonRefusal(res, 408, 'request_timeout')
    expect(res.ms).toBeGreaterThanOrEqual(timeoutMs - 50)
    expect(res.ms).toBeLessThan(timeoutMs * 3)
  })
})
