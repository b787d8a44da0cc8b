import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rawRequest } from '../support/data-plane.js'
import { defaultGatewayConfig, startStack, type Stack } from '../support/harness.js'

describe('requests refused by the server are answered, counted and logged like any other', () => {
  let stack: Stack
  beforeAll(async () => {
    stack = await startStack()
  })
  afterAll(() => stack.close())

  const cases = [
    { method: 'GET', path: '/v1/files%2f..%2fadmin', status: 400, code: 'invalid_path' },
    { method: 'GET', path: '/v1/chat/completions', status: 405, code: 'method_not_allowed' },
    { method: 'GET', path: '/nowhere', status: 404, code: 'not_found' },
    { method: 'GET', path: '/v1/models/no-such-model', status: 404, code: 'model_not_found' },
  ] as const

  for (const c of cases) {
    it(`${c.method} ${c.path} → ${c.status} ${c.code}, one access-log line, one metric sample`, async () => {
      const before = stack.logs.accessLog().length
      const res = await request(`${stack.gw.url}${c.path}`, { method: c.method, headers: { 'x-request-id': `refused-${c.status}-${c.code}` } })
      expect(res.statusCode).toBe(c.status)
      expect(((await res.body.json()) as { error: { code: string } }).error.code).toBe(c.code)
      const lines = await stack.logs.waitForAccessLog((records) => records.length > before)
      expect(lines.slice(before)).toEqual([expect.objectContaining({ requestId: `refused-${c.status}-${c.code}`, status: c.status, outcome: 'rejected', error: c.code })])
      const metrics = await (await request(`${stack.gw.url}/metrics`)).body.text()
      expect(metrics).toMatch(new RegExp(`sluice_requests_total\\{model="none",provider="none",key="none",status="${c.status}",outcome="rejected"\\} \\d+`))
    })
  }

  it('closes the connection after refusing a body it did not read', async () => {
    const declared = 64 * 1024 * 1024
    const res = await rawRequest(stack.gw.port, `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${declared}`, '{"model":')
    expect(res.status).toBe(413)
    expect(res.headers.connection).toBe('close')
    expect(stack.sim.stats().totals.requests).toBe(0)
  })
})

describe('a client that trickles its body', () => {
  let stack: Stack
  beforeAll(async () => {
    stack = await startStack({
      gateway: (simUrl) => ({ ...defaultGatewayConfig(simUrl), server: { request_timeout: 300 } }),
    })
  })
  afterAll(() => stack.close())

  it('gets 408 request_timeout at server.request_timeout, and the upstream is never called', async () => {
    const startedAt = performance.now()
    const res = await rawRequest(stack.gw.port, 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100', '{"model":')
    const elapsed = performance.now() - startedAt
    expect(res.status).toBe(408)
    expect(res.headers.connection).toBe('close')
    expect(res.json()).toMatchObject({ error: { code: 'request_timeout', type: 'invalid_request_error' } })
    expect(elapsed).toBeGreaterThanOrEqual(295)
    expect(elapsed).toBeLessThan(2000)
    expect(stack.sim.stats().totals.requests).toBe(0)
    const log = await stack.logs.waitForAccessLog((records) => records.some((r) => r.error === 'request_timeout'))
    expect(log.find((r) => r.error === 'request_timeout')).toMatchObject({ status: 408, outcome: 'rejected' })
  })
})
