import { EventEmitter } from 'node:events'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Dispatcher } from 'undici'
import { describe, expect, it } from 'vitest'
import { Attempt } from '../../../../src/attempt.js'
import type { Provider, ProviderKey, Runtime } from '../../../../src/config/runtime.js'
import { RequestContext } from '../../../../src/context.js'
import { SecretIndex } from '../../../../src/core/secrets/secret-index.js'
import { Relay } from '../../../../src/stages/forward/relay.js'

/** A response whose socket is "full" whenever `full` is true, like a client that stopped reading. */
class FakeResponse extends EventEmitter {
  full = false
  headersSent = false
  writableFinished = false
  destroyed = false
  status = 0
  headers: Record<string, unknown> = {}
  written: Buffer[] = []
  writeHead(status: number, headers: Record<string, unknown>): this {
    this.status = status
    this.headers = headers
    this.headersSent = true
    return this
  }
  flushHeaders(): void {}
  write(chunk: Buffer | string): boolean {
    this.headersSent = true
    this.written.push(Buffer.from(chunk))
    return !this.full
  }
  end(chunk?: Buffer | string): this {
    if (chunk !== undefined) this.write(chunk)
    this.writableFinished = true
    return this
  }
  destroy(): this {
    this.destroyed = true
    return this
  }
  text(): string {
    return Buffer.concat(this.written).toString()
  }
}

class FakeController implements Dispatcher.DispatchController {
  paused = false
  aborted = false
  reason: Error | null = null
  pauses = 0
  resumes = 0
  pause(): void {
    this.paused = true
    this.pauses++
  }
  resume(): void {
    this.paused = false
    this.resumes++
  }
  abort(reason: Error): void {
    this.aborted = true
    this.reason = reason
  }
}

const provider = {
  id: 'sim',
  timeouts: { connectMs: 1000, firstByteMs: 1000, idleMs: 1000, totalMs: 0 },
} as unknown as Provider
const runtime = { secrets: new SecretIndex(['sk-secret-123456789']), log: { accessLog: false } } as unknown as Runtime

function setup(raw = false) {
  const res = new FakeResponse()
  const ctx = new RequestContext('req-1', {} as IncomingMessage, res as unknown as ServerResponse, runtime, 'chat', '/chat/completions')
  const attempt = new Attempt({ provider, key: { id: 'k1' } as ProviderKey, deployment: null, route: null }, 1)
  ctx.attempts.push(attempt)
  ctx.current = attempt
  const relay = new Relay(ctx, attempt, raw)
  const controller = new FakeController()
  relay.onRequestStart(controller)
  return { res, ctx, relay, controller }
}

const sse = { 'content-type': 'text/event-stream' }

describe('Relay', () => {
  it('pauses the upstream while the client socket is full and resumes on drain', async () => {
    const { res, relay, controller } = setup()
    relay.onResponseStart(controller, 200, sse)
    relay.onResponseData(controller, Buffer.from('data: 1\n\n'))
    expect(controller.pauses).toBe(0)
    res.full = true
    relay.onResponseData(controller, Buffer.from('data: 2\n\n'))
    expect(controller.paused).toBe(true)
    res.full = false
    res.emit('drain')
    expect(controller.paused).toBe(false)
    expect(controller.resumes).toBe(1)
    relay.onResponseData(controller, Buffer.from('data: [DONE]\n\n'))
    relay.onResponseEnd()
    await relay.done
    expect(res.text()).toBe('data: 1\n\ndata: 2\n\ndata: [DONE]\n\n')
    expect(res.headers['x-accel-buffering']).toBe('no')
  })

  it('ends a broken stream with one error event and no [DONE]', async () => {
    const { res, ctx, relay, controller } = setup()
    relay.onResponseStart(controller, 200, sse)
    relay.onResponseData(controller, Buffer.from('data: {"x":1}\n\n'))
    relay.onResponseError(controller, Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }))
    await relay.done
    const events = res.text().split('\n\n').filter(Boolean)
    expect(events).toHaveLength(2)
    expect(JSON.parse(events[1]!.slice('data: '.length))).toMatchObject({ error: { code: 'upstream_error' } })
    expect(res.text()).not.toContain('[DONE]')
    expect(ctx.outcome).toBe('upstream_error')
    expect(ctx.upstreamFailure).toBe('reset')
  })

  it('terminates an event cut in the middle before the error event', async () => {
    const { res, relay, controller } = setup()
    relay.onResponseStart(controller, 200, sse)
    relay.onResponseData(controller, Buffer.from('data: {"x":1}\n\ndata: {"content":"hel'))
    relay.onResponseError(controller, Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }))
    await relay.done
    const events = res.text().split('\n\n')
    expect(events.at(-2)).toMatch(/^data: \{"error":/)
    expect(JSON.parse(events.at(-2)!.slice('data: '.length))).toMatchObject({ error: { code: 'upstream_error' } })
    expect(events.at(-1)).toBe('')
  })

  it('settles exactly once when the client goes away, and aborts the upstream', async () => {
    const { res, ctx, relay, controller } = setup()
    relay.onResponseStart(controller, 200, sse)
    ctx.clientClosed()
    expect(controller.aborted).toBe(true)
    // undici then reports the abort; anything after that is ignored.
    relay.onResponseError(controller, controller.reason!)
    relay.onResponseData(controller, Buffer.from('late'))
    relay.onResponseEnd()
    await relay.done
    expect(ctx.outcome).toBe('client_abort')
    expect(ctx.status).toBe(499)
    expect(res.text()).not.toContain('late')
  })

  it('refuses a 2xx body that is not JSON before any byte reaches the client', async () => {
    const { res, ctx, relay, controller } = setup()
    relay.onResponseStart(controller, 200, { 'content-type': 'text/html' })
    relay.onResponseData(controller, Buffer.from('<html>'))
    await relay.done
    expect(res.status).toBe(502)
    expect(JSON.parse(res.text())).toMatchObject({ error: { code: 'upstream_invalid_response' } })
    expect(controller.aborted).toBe(true)
    expect(ctx.outcome).toBe('upstream_error')
  })

  it('scrubs the secret from an upstream 400 body', async () => {
    const { res, relay, controller } = setup()
    relay.onResponseStart(controller, 400, { 'content-type': 'application/json' })
    relay.onResponseData(controller, Buffer.from(JSON.stringify({ error: { message: 'bad key sk-secret-123456789', type: 'invalid_request_error', code: 'bad', param: null } })))
    relay.onResponseEnd()
    await relay.done
    expect(res.status).toBe(400)
    expect(res.text()).not.toContain('sk-secret')
  })

  describe('a 2xx that quotes the key, cut between two upstream chunks', () => {
    const key = 'sk-secret-123456789'
    const stars = '*'.repeat(key.length)
    const modes = [
      { name: 'a JSON body', raw: false, headers: { 'content-type': 'application/json' }, body: `{"echo":"Incorrect API key provided: ${key}"}` },
      { name: 'an SSE stream ending in an error event', raw: false, headers: sse, body: `data: {"x":1}\n\ndata: {"error":{"message":"Incorrect API key provided: ${key}"}}\n\n` },
      { name: 'a passthrough answer', raw: true, headers: { 'content-type': 'text/plain', 'x-echo': `Bearer ${key}`, vary: `Origin, X-${key}` }, body: `you sent ${key}` },
    ]
    for (const m of modes) {
      it(`masks it in ${m.name}, and in no header`, async () => {
        const { res, relay, controller } = setup(m.raw)
        relay.onResponseStart(controller, 200, m.headers)
        const cut = m.body.indexOf(key) + 7
        relay.onResponseData(controller, Buffer.from(m.body.slice(0, cut)))
        // Everything before the possible start of a key went out at once.
        expect(res.text()).toBe(m.body.slice(0, m.body.indexOf(key)))
        relay.onResponseData(controller, Buffer.from(m.body.slice(cut)))
        relay.onResponseEnd()
        await relay.done
        expect(res.status).toBe(200)
        expect(res.text()).toBe(m.body.replace(key, stars))
        expect(JSON.stringify(res.headers)).not.toContain('sk-secret')
      })
    }

    it('relays a content type that quotes the key as the plain one', async () => {
      for (const [type, plain] of [['application/json', 'application/json'], ['text/event-stream', 'text/event-stream']]) {
        const { res, relay, controller } = setup()
        relay.onResponseStart(controller, 200, { 'content-type': `${type}; echo=${key}` })
        relay.onResponseData(controller, Buffer.from(type === 'application/json' ? '{}' : 'data: {}\n\n'))
        relay.onResponseEnd()
        await relay.done
        expect(res.headers['content-type']).toBe(plain)
      }
    })
  })
})
