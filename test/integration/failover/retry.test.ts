import { createServer } from 'node:net'
import OpenAI from 'openai'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { send } from '../../support/data-plane.js'
import { startStack, type Stack } from '../../support/harness.js'
import { adminCaller, adminKey, attemptsOf, deploymentOf, provider, secretOf, upstreamSaw } from '../../support/failover.js'

/** A 127.0.0.1 port nothing listens on: bound, then closed again. */
async function deadPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

// A key that fails before the client got anything is not the client's problem: the request is
// sent again on another key of the model, and the answer says which key served it and how many
// attempts it took.

describe('failover: a failed attempt is retried on a different key', () => {
  let stack: Stack
  let client: OpenAI
  const admin = adminCaller(() => stack.gw.url)

  beforeAll(async () => {
    const dead = await deadPort()
    stack = await startStack({
      sim: { keys: { [secretOf('a')]: { id: 'a' }, [secretOf('b')]: { id: 'b' }, [secretOf('live')]: { id: 'live' } } },
      gateway: (simUrl) => ({
        admin: { keys: [adminKey] },
        providers: {
          two: provider(simUrl, [{ id: 'a' }, { id: 'b' }]),
          dead: { type: 'openai', base_url: `http://127.0.0.1:${dead}/v1`, keys: [{ id: 'gone', key: secretOf('gone') }] },
          live: provider(simUrl, [{ id: 'live' }]),
        },
        models: {
          // round-robin starts at the first key: the first request goes to a.
          pair: { targets: [{ provider: 'two', model: 'up-pair' }], strategy: 'round-robin' },
          // The dead provider's key is first.
          spread: { targets: [{ provider: 'dead', model: 'up-spread' }, { provider: 'live', model: 'up-spread' }], strategy: 'round-robin' },
        },
      }),
    })
    client = new OpenAI({ baseURL: stack.baseURL, apiKey: 'client-key', maxRetries: 0 })
  })
  afterAll(() => stack?.close())

  it('key a answers 500 once: the client gets 200 from b, x-sluice-attempts 2, x-sluice-deployment naming b', async () => {
    stack.sim.script([{ kind: 'error', status: 500, match: { key: 'a' } }])
    const { data, response } = await client.chat.completions
      .create({ model: 'pair', messages: [{ role: 'user', content: 'hello' }], max_tokens: 4 }, { headers: { 'x-request-id': 'retry-1' } })
      .withResponse()
    expect(response.status).toBe(200)
    expect(data.choices[0]?.message.content).toBeTruthy()
    expect(response.headers.get('x-sluice-attempts')).toBe('2')
    expect(response.headers.get('x-sluice-deployment')).toBe('two/b/up-pair')

    await upstreamSaw(stack.sim, ['retry-1'])
    expect(attemptsOf(stack.sim, 'retry-1').map((r) => [r.key_id, r.status])).toEqual([['a', 500], ['b', 200]])
    const logs = await stack.logs.waitForAccessLog((all) => all.some((r) => r.requestId === 'retry-1'))
    const log = logs.find((r) => r.requestId === 'retry-1')
    expect(log).toMatchObject({ status: 200, attempts: 2, key: 'b', deployment: 'two/b/up-pair' })

    const text = (await send(stack.gw.url, '/metrics')).text
    expect(text).toMatch(/^sluice_retries_total\{reason="retry"\} 1$/m)
  })

  it('without a failure, one attempt: x-sluice-attempts 1', async () => {
    const { response } = await client.chat.completions
      .create({ model: 'pair', messages: [{ role: 'user', content: 'again' }], max_tokens: 4 }, { headers: { 'x-request-id': 'retry-2' } })
      .withResponse()
    expect(response.status).toBe(200)
    expect(response.headers.get('x-sluice-attempts')).toBe('1')
    await upstreamSaw(stack.sim, ['retry-2'])
    expect(attemptsOf(stack.sim, 'retry-2')).toHaveLength(1)
  })

  it('a 2xx that is no JSON (garbage) is an invalid answer, retried on the other key before the client sees a byte', async () => {
    stack.sim.script([{ kind: 'garbage', match: { model: 'up-pair' } }])
    const { data, response } = await client.chat.completions
      .create({ model: 'pair', messages: [{ role: 'user', content: 'garbage?' }], max_tokens: 4 }, { headers: { 'x-request-id': 'retry-3' } })
      .withResponse()
    expect(data.object).toBe('chat.completion')
    expect(response.headers.get('x-sluice-attempts')).toBe('2')
    await upstreamSaw(stack.sim, ['retry-3'])
    const attempts = attemptsOf(stack.sim, 'retry-3')
    expect(attempts).toHaveLength(2)
    expect(attempts[0]?.key_id).not.toBe(attempts[1]?.key_id)
    expect(response.headers.get('x-sluice-deployment')).toBe(`two/${attempts[1]?.key_id}/up-pair`)
    const health = (await deploymentOf(admin, `two~${attempts[0]?.key_id}`)).health
    expect(health.last_failure_kind).toBe('invalid')
    expect(health.consecutive_failures).toBeGreaterThanOrEqual(1)
  })

  it('a key whose upstream refuses the connection: retried on another provider\'s key, 2 attempts', async () => {
    const { data, response } = await client.chat.completions
      .create({ model: 'spread', messages: [{ role: 'user', content: 'anyone?' }], max_tokens: 4 }, { headers: { 'x-request-id': 'retry-4' } })
      .withResponse()
    expect(data.object).toBe('chat.completion')
    expect(response.headers.get('x-sluice-attempts')).toBe('2')
    expect(response.headers.get('x-sluice-deployment')).toBe('live/live/up-spread')
    await upstreamSaw(stack.sim, ['retry-4'])
    expect(attemptsOf(stack.sim, 'retry-4').map((r) => r.key_id)).toEqual(['live'])
    expect((await deploymentOf(admin, 'dead~gone')).health).toMatchObject({ state: 'open', consecutive_failures: 1, last_failure_kind: 'connect', times_opened: 1 }) // nothing listens: out at once
  })
})
