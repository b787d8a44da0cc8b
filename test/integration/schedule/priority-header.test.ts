import OpenAI from 'openai'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectErrorBody, rawRequest } from '../../support/data-plane.js'
import { startStack, type Stack } from '../../support/harness.js'
import { accessLogFor, chat, chatBody, scenarioConfig, scenarioSimConfig, upstreamOrder } from '../../support/schedule.js'

// X-Priority and X-Sluice-Max-Wait are read before anything is queued or sent: a value sluice
// does not understand is the client's mistake, answered 400 naming the header, and costs the
// upstream nothing. The key is unpaced here, so every accepted request goes at once.

const scenarios = { hdr: {} }

describe('schedule: X-Priority and X-Sluice-Max-Wait', () => {
  let stack: Stack
  beforeAll(async () => {
    stack = await startStack({ sim: scenarioSimConfig(scenarios), gateway: (simUrl) => scenarioConfig(simUrl, scenarios) })
  })
  afterAll(() => stack.close())

  const accepted: [string, string][] = [
    ['urgent', 'urgent'],
    ['URGENT', 'urgent'],
    ['High', 'high'],
    ['normal', 'normal'],
    ['LoW', 'low'],
    ['0', 'urgent'],
    ['1', 'high'],
    ['2', 'normal'],
    ['3', 'low'],
    ['  high  ', 'high'],
  ]

  it.each(accepted)('X-Priority %j is accepted and logged as %s', async (value, name) => {
    const id = `acc-${Buffer.from(value).toString('hex')}`
    const res = await chat(stack.gw.url, { model: 'hdr', id, priority: value })
    expect(res.status).toBe(200)
    const [log] = await accessLogFor(stack, [id])
    expect(log).toMatchObject({ status: 200, priority: name, attempts: 1 })
  })

  it('no X-Priority is normal', async () => {
    const res = await chat(stack.gw.url, { model: 'hdr', id: 'no-priority' })
    expect(res.status).toBe(200)
    const [log] = await accessLogFor(stack, ['no-priority'])
    expect(log).toMatchObject({ priority: 'normal', queuedMs: 0 })
  })

  const refused = ['critical', '4', '-1', '1.0', 'urgent!', 'hi', 'urgent low']
  it.each(refused)('X-Priority %j is 400 invalid_header naming X-Priority; the upstream is never called', async (value) => {
    const id = `bad-${Buffer.from(value).toString('hex')}`
    const res = await chat(stack.gw.url, { model: 'hdr', id, priority: value })
    expect(res.status).toBe(400)
    const error = expectErrorBody(JSON.parse(res.text), 'invalid_header', 'X-Priority')
    expect(error.type).toBe('invalid_request_error')
    expect(error.message).toContain('X-Priority')
    const [log] = await accessLogFor(stack, [id])
    expect(log).toMatchObject({ status: 400, error: 'invalid_header', provider: null, attempts: 0 })
    expect(upstreamOrder(stack, 'hdr')).not.toContain(id)
  })

  it('an empty X-Priority or X-Sluice-Max-Wait, or two X-Priority headers, is 400 invalid_header', async () => {
    const body = chatBody({ model: 'hdr', id: 'raw' })
    for (const [id, lines, param] of [
      ['raw-empty', 'X-Priority: ', 'X-Priority'],
      ['raw-twice', 'X-Priority: high\r\nX-Priority: low', 'X-Priority'],
      ['raw-empty-wait', 'X-Sluice-Max-Wait: ', 'X-Sluice-Max-Wait'],
    ] as const) {
      const head = `POST /v1/chat/completions HTTP/1.1\r\nHost: sluice.test\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nX-Request-Id: ${id}\r\n${lines}`
      const res = await rawRequest(stack.gw.port, head, body)
      expect(res.status, id).toBe(400)
      expectErrorBody(res.json(), 'invalid_header', param)
      expect(upstreamOrder(stack, 'hdr')).not.toContain(id)
    }
  })

  const goodWaits = ['5', '2.5', '0', ' 7 ', '600']
  it.each(goodWaits)('X-Sluice-Max-Wait %j is accepted', async (value) => {
    const id = `mw-${Buffer.from(value).toString('hex')}`
    const res = await chat(stack.gw.url, { model: 'hdr', id, maxWait: value })
    expect(res.status).toBe(200)
  })

  const badWaits = ['abc', '-1', '5s', '0x10', '1,5', 'Infinity', 'NaN']
  it.each(badWaits)('X-Sluice-Max-Wait %j is 400 invalid_header naming the header; the upstream is never called', async (value) => {
    const id = `mwbad-${Buffer.from(value).toString('hex')}`
    const res = await chat(stack.gw.url, { model: 'hdr', id, maxWait: value, priority: 'high' })
    expect(res.status).toBe(400)
    expectErrorBody(JSON.parse(res.text), 'invalid_header', 'X-Sluice-Max-Wait')
    expect(upstreamOrder(stack, 'hdr')).not.toContain(id)
  })

  it('the openai client: defaultHeaders carry X-Priority; a bad one is a BadRequestError with param X-Priority', async () => {
    const urgent = new OpenAI({ baseURL: stack.baseURL, apiKey: 'client-a', maxRetries: 0, defaultHeaders: { 'X-Priority': 'urgent' } })
    const res = await urgent.chat.completions.create({ model: 'hdr', messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 }, { headers: { 'x-request-id': 'openai-urgent' } })
    expect(res.object).toBe('chat.completion')
    const low = await urgent.chat.completions
      .create({ model: 'hdr', messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 }, { headers: { 'x-request-id': 'openai-low', 'X-Priority': 'low' } })
      .withResponse()
    expect(low.response.status).toBe(200)
    const logs = await accessLogFor(stack, ['openai-urgent', 'openai-low'])
    expect(logs.map((l) => l.priority)).toEqual(['urgent', 'low'])

    const bad = new OpenAI({ baseURL: stack.baseURL, apiKey: 'client-a', maxRetries: 0, defaultHeaders: { 'X-Priority': 'asap' } })
    const err: unknown = await bad.chat.completions.create({ model: 'hdr', messages: [{ role: 'user', content: 'hi' }] }, { headers: { 'x-request-id': 'openai-bad' } }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(OpenAI.BadRequestError)
    const e = err as InstanceType<typeof OpenAI.BadRequestError>
    expect(e.code).toBe('invalid_header')
    expect(e.param).toBe('X-Priority')
    expect(upstreamOrder(stack, 'hdr')).not.toContain('openai-bad')
  })
})
