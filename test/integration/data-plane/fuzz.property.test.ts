import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rawExchange, startWatchedStack, type RawAnswer, type WatchedStack } from '../../support/data-plane.js'

// Whatever a client sends, it gets an answer: a success, or a JSON error in the OpenAI shape
// with a request id. Never a bare status line, a socket closed without an answer, or a 5xx
// (the simulator behind the gateway has no faults, so a 5xx could only be sluice's own).
// Everything goes over raw sockets, so that methods, targets and headers no client library
// would send are tried too. Bounded: a fixed number of runs with a fixed seed per property
// (FUZZ_SEED overrides it to explore further).

const seed = Number(process.env.FUZZ_SEED ?? 20261207)
const requestTimeoutMs = 400

function expectAnswered(res: RawAnswer, sent: string): void {
  const context = `sent ${JSON.stringify(sent.slice(0, 400))}, got ${JSON.stringify(res.text.slice(0, 300))} (status ${res.status})`
  expect(res.status, context).toBeGreaterThanOrEqual(200)
  expect(res.status, context).toBeLessThan(500)
  if (res.status < 400) return
  expect(res.headers['x-request-id'], context).toMatch(/^[A-Za-z0-9._:-]{1,128}$/)
  expect(res.headers['content-type'], context).toContain('application/json')
  if (sent.startsWith('HEAD ')) return // the answer to HEAD has no body
  const body = JSON.parse(res.text) as { error?: Record<string, unknown> }
  expect(Object.keys(body), context).toEqual(['error'])
  expect(Object.keys(body.error ?? {}).sort(), context).toEqual(['code', 'message', 'param', 'type'])
  expect(typeof body.error?.message, context).toBe('string')
}

const token = fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}$/)

const method = fc.oneof(
  fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD', 'TRACE', 'CONNECT', 'PROPFIND', 'MKCOL', 'LOCK', 'PURGE', 'SEARCH', 'QUERY'),
  token,
)

// Pieces that each mean something to a path check, mixed with plain text.
const pathPiece = fc.oneof(
  fc.constantFrom('/', '.', '..', '%2e', '%2E', '%252e', '%2f', '%5c', '%00', '%c0%ae', '%e0%80%ae', '%', '%z', '%25', '%41', '%63', ';', '\\', '#', '?', '&', '=', 'A', 'Chat', 'COMPLETIONS', '~', '@', ':', '*', '%ff', '%C3%A9'),
  fc.stringMatching(/^[a-z0-9_-]{1,8}$/),
)
const target = fc.oneof(
  fc.tuple(
    fc.constantFrom('/v1/chat/completions', '/v1/completions', '/v1/embeddings', '/v1/messages', '/v1/models', '/v1/models/', '/v1/files', '/v1/', '/v1', '/health', '/health/ready', '/status', '/metrics', '/api/admin/', '/', ''),
    fc.array(pathPiece, { maxLength: 6 }),
  ).map(([prefix, pieces]) => prefix + pieces.join('')),
  fc.constantFrom('*', 'http://evil.example/v1/files', '//evil/v1', 'evil.example:443'),
)

const headerName = fc.oneof(
  fc.constantFrom('Authorization', 'Content-Type', 'X-Priority', 'X-Request-Id', 'X-Sluice-Max-Wait', 'Origin', 'Accept', 'Expect', 'Host', 'Connection', 'Transfer-Encoding', 'Content-Length', 'X-Api-Key', 'Upgrade', 'X-Forwarded-Host', 'Access-Control-Request-Method'),
  token,
)
const headerValue = fc.oneof(
  fc.constantFrom('', 'Bearer sk-sluice-x', 'application/json', 'high', 'urgent', '7', '-1', '1e9', 'close', 'keep-alive, host', 'chunked', 'gzip', '100-continue', '200-ok', 'websocket', 'GET', 'https://app.example', '0', '99999999999999999999'),
  fc.string({ maxLength: 40 }),
)
const headers = fc.array(fc.tuple(headerName, headerValue), { maxLength: 5 })

const body = fc.oneof(
  fc.constant(''),
  fc.string({ maxLength: 60 }),
  fc.record(
    {
      model: fc.oneof(fc.constantFrom('test-model', 'gpt-4o-mini', '', 'x'.repeat(300)), fc.integer(), fc.constant(null)),
      messages: fc.oneof(fc.constant([{ role: 'user', content: 'hi' }]), fc.constant([]), fc.constant('hi'), fc.array(fc.anything(), { maxLength: 2 })),
      max_tokens: fc.oneof(fc.constant(2), fc.integer(), fc.double(), fc.string({ maxLength: 4 })),
      stream: fc.oneof(fc.boolean(), fc.constant('yes')),
      input: fc.oneof(fc.constant('hi'), fc.constant([]), fc.integer()),
      prompt: fc.oneof(fc.constant('hi'), fc.constant(null)),
    },
    { requiredKeys: [] },
  ).map((o) => JSON.stringify(o)),
)

/** One request built from the four arbitraries, sent on a fresh socket; its answer must be one. */
const requestProperty = (port: () => number) =>
  fc.asyncProperty(method, target, headers, body, async (m, t, hs, b) => {
    const bytes = Buffer.from(b, 'utf8')
    const lines = [`${m} ${t} HTTP/1.1`, 'Host: sluice.test', ...hs.map(([n, v]) => `${n}: ${v}`), `Content-Length: ${bytes.length}`, 'Connection: close']
    const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'utf8')
    expectAnswered(await rawExchange(port(), Buffer.concat([head, bytes])), `${lines.join('\r\n')}\r\n\r\n${b}`)
  })

const gatewayConfig = (simUrl: string) => ({
  providers: { sim: { type: 'openai' as const, base_url: `${simUrl}/v1`, keys: [{ id: 'k1', key: 'sk-sim-test-1' }] } },
  models: { 'test-model': { targets: [{ provider: 'sim', model: 'sim-model' }] } },
  passthrough: { provider: 'sim' },
  server: { request_timeout: `${requestTimeoutMs}ms`, body_limit: 4096 },
  queue: { max_wait: { urgent: '2s', high: '2s', normal: '2s', low: '2s' } },
})

describe('fuzz: every request gets an answer (auth off, passthrough)', () => {
  let stack: WatchedStack
  beforeAll(async () => {
    stack = await startWatchedStack({ gateway: gatewayConfig })
  })
  afterAll(() => stack.close())

  it('methods, targets, headers and bodies', async () => {
    await fc.assert(requestProperty(() => stack.gw.port), { numRuns: 300, seed })
  }, 120_000)

  it('malformed bytes on a raw socket', async () => {
    const start = fc.constantFrom('GET / HTTP/1.1\r\n', 'POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 5\r\n', 'GET /v1/models HTTP/1.0\r\n', '', 'G', 'GET /v1/models HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n')
    const junk = fc.oneof(fc.uint8Array({ maxLength: 80 }).map((a) => Buffer.from(a).toString('latin1')), fc.string({ maxLength: 80 }), fc.constantFrom('\r', '\n', '\r\n', '\0', ' ', ':', '\r\n\r\n', 'HTTP/1.1', '\x7f'))
    await fc.assert(
      fc.asyncProperty(start, fc.array(junk, { maxLength: 4 }), fc.boolean(), async (s, parts, finish) => {
        const sent = `${s}${parts.join('')}${finish ? '\r\n\r\n' : ''}`
        expectAnswered(await rawExchange(stack.gw.port, Buffer.from(sent, 'latin1')), sent)
      }),
      { numRuns: 150, seed },
    )
  }, 120_000)
})

describe('fuzz: every request gets an answer (auth required, CORS on)', () => {
  let stack: WatchedStack
  beforeAll(async () => {
    stack = await startWatchedStack({ gateway: (simUrl) => ({ ...gatewayConfig(simUrl), auth: 'required', cors: { origins: ['https://app.example'] } }) })
  })
  afterAll(() => stack.close())

  it('methods, targets, headers and bodies', async () => {
    await fc.assert(requestProperty(() => stack.gw.port), { numRuns: 200, seed: seed + 1 })
  }, 120_000)
})
