import { describe, expect, it } from 'vitest'
import { probeRequest } from '../../../src/health/index.js'

describe('probeRequest', () => {
  const cases = [
    { kind: 'openai', want: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'ping' }], max_tokens: 1 } },
    // Azure names the model by the deployment in the URL.
    { kind: 'azure', want: { messages: [{ role: 'user', content: 'ping' }], max_tokens: 1 } },
    // Anthropic's messages API refuses a request without max_tokens.
    { kind: 'anthropic', want: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'ping' }], max_tokens: 1 } },
  ] as const
  for (const c of cases) {
    it(`${c.kind}: a one-token chat body`, () => {
      const r = probeRequest(c.kind, 'gpt-4o-mini')
      expect(JSON.parse(r.body.toString('utf8'))).toEqual(c.want)
      // Charged as the scheduler charges any request: body bytes / 4, rounded up, plus max_tokens.
      expect(r.tokens).toBe(Math.ceil(r.body.length / 4) + 1)
    })
  }

  it('keeps the documented field order for openai', () => {
    expect(probeRequest('openai', 'm').body.toString()).toBe('{"model":"m","messages":[{"role":"user","content":"ping"}],"max_tokens":1}')
  })
})
