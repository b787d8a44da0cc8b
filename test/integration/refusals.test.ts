import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rawRequest } from '../support/data-plane.js'
import { startStack, type Stack } from '../support/harness.js'

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
