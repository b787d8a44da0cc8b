import { describe, expect, it } from 'vitest'
import { forwardClientHeaders, forwardHeaderList } from '../../../../src/core/headers/forward.js'
import { ProviderConfig } from '../../../../src/config/schema.js'

describe('client headers forwarded per provider', () => {
  const cases = [
    {
      name: 'openai: organisation, project and beta go through; anthropic headers do not',
      list: forwardHeaderList('openai', []),
      incoming: { 'openai-organization': 'org-1', 'openai-project': 'proj-1', 'openai-beta': 'assistants=v2', 'anthropic-beta': 'x', 'x-other': 'y' },
      out: ['authorization', 'Bearer k', 'openai-organization', 'org-1', 'openai-project', 'proj-1', 'openai-beta', 'assistants=v2'],
    },
    {
      name: 'anthropic: the client\'s anthropic-version replaces the configured one; anthropic-beta is added',
      list: forwardHeaderList('anthropic', []),
      incoming: { 'anthropic-version': '2024-01-01', 'anthropic-beta': 'tools-2024', 'openai-organization': 'org-1' },
      out: ['x-api-key', 'k', 'anthropic-version', '2024-01-01', 'anthropic-beta', 'tools-2024'],
    },
    {
      name: 'anthropic: without a client version the configured one stays',
      list: forwardHeaderList('anthropic', []),
      incoming: {},
      out: ['x-api-key', 'k', 'anthropic-version', '2023-06-01'],
    },
    {
      name: 'forward_headers adds names, case-insensitively, each once',
      list: forwardHeaderList('openai', ['X-Team', 'OpenAI-Beta']),
      incoming: { 'x-team': 'blue', 'openai-beta': 'b' },
      out: ['authorization', 'Bearer k', 'openai-beta', 'b', 'x-team', 'blue'],
    },
    {
      name: 'a header sent twice (an array) is not forwarded',
      list: forwardHeaderList('openai', []),
      incoming: { 'openai-project': ['a', 'b'] },
      out: ['authorization', 'Bearer k'],
    },
  ]
  for (const c of cases) {
    it(c.name, () => {
      const out = c.list.includes('anthropic-version') ? ['x-api-key', 'k', 'anthropic-version', '2023-06-01'] : ['authorization', 'Bearer k']
      forwardClientHeaders(out, c.incoming, c.list)
      expect(out).toEqual(c.out)
    })
  }

  it('forward_headers refuses credentials, routing and framing headers', () => {
    const base = { type: 'openai', keys: [{ id: 'k', key: 'sk-x' }] }
    for (const bad of ['Authorization', 'x-api-key', 'Host', 'cookie', 'content-length', 'x-sluice-anything']) {
      expect(ProviderConfig.safeParse({ ...base, forward_headers: [bad] }).success, bad).toBe(false)
    }
    expect(ProviderConfig.safeParse({ ...base, forward_headers: ['X-Team'] }).success).toBe(true)
  })
})
