import { afterAll, describe, expect, it } from 'vitest'
import { compile, dispatchersOf } from '../../../src/config/compile.js'
import { parseConfigText } from '../../../src/config/load.js'
import { UpstreamPools } from '../../../src/config/pools.js'
import type { Deployment, Runtime } from '../../../src/config/runtime.js'
import type { PeakEwma } from '../../../src/core/balance/index.js'
import { BreakerRegistry } from '../../../src/core/breaker/index.js'
import type { Endpoint } from '../../../src/providers/types.js'

// Port 9 (discard) on loopback: pools are created but never connect in these tests.
const secrets = {
  oa1: 'sk-canary-0123456789abcdef0123456789abcdef',
  oa2: 'sk-canary-fedcba9876543210fedcba9876543210',
  az: '0123456789abcdef0123456789abcdef',
  an: 'sk-ant-canary-00112233445566778899',
}

const yaml = `
providers:
  oa:
    type: openai
    base_url: http://127.0.0.1:9/v1
    keys:
      - id: k1
        key: \${OA1}
      - id: k2
        key: \${OA2}
    headers:
      OpenAI-Organization: org-1
  az:
    type: azure
    base_url: https://res.openai.azure.com/
    api_version: 2024-06-01
    keys:
      - id: main
        key: \${AZ}
  an:
    type: anthropic
    base_url: http://127.0.0.1:9/v1
    keys:
      - id: a
        key: \${AN}
models:
  gpt-4o:
    owned_by: openai
    targets:
      - provider: oa
      - provider: az
        model: gpt-4o-eu
  claude:
    targets:
      - provider: an
        model: claude-sonnet-4
  llama:
    targets:
      - provider: oa
        model: meta/llama-3.1-8b-instruct
passthrough:
  provider: oa
`

const now = 1_700_000_123_456
const pools = new UpstreamPools()
const cfg = parseConfigText(yaml, 'sluice.yaml', { OA1: secrets.oa1, OA2: secrets.oa2, AZ: secrets.az, AN: secrets.an })
const runtime: Runtime = compile(cfg, { generation: 7, source: 'sluice.yaml', pools, now: () => now })

afterAll(async () => {
  await pools.close()
})

function model(name: string) {
  const m = runtime.models.get(name)
  if (!m) throw new Error(`model ${name} not compiled`)
  return m
}

function deployment(id: string): Deployment {
  for (const m of runtime.models.values()) {
    const d = m.deployments.find((x) => x.id === id)
    if (d) return d
  }
  throw new Error(`deployment ${id} not compiled`)
}

/** The flat [name, value, …] header list as pairs. */
function headerPairs(d: Deployment): [string, string][] {
  const out: [string, string][] = []
  for (let i = 0; i < d.key.headers.length; i += 2) out.push([d.key.headers[i] as string, d.key.headers[i + 1] as string])
  return out
}

describe('compile: deployments', () => {
  it('are targets × keys, in config order, with ids provider/key/upstreamModel', () => {
    expect(model('gpt-4o').deployments.map((d) => d.id)).toEqual(['oa/k1/gpt-4o', 'oa/k2/gpt-4o', 'az/main/gpt-4o-eu'])
    expect(model('claude').deployments.map((d) => d.id)).toEqual(['an/a/claude-sonnet-4'])
    expect(model('llama').deployments.map((d) => d.id)).toEqual(['oa/k1/meta/llama-3.1-8b-instruct', 'oa/k2/meta/llama-3.1-8b-instruct'])
  })

  it('upstream model defaults to the route name', () => {
    expect(deployment('oa/k1/gpt-4o').upstreamModel).toBe('gpt-4o')
    expect(deployment('az/main/gpt-4o-eu').upstreamModel).toBe('gpt-4o-eu')
  })

  const pathCases: { id: string; paths: Record<Endpoint, string | null> }[] = [
    {
      id: 'oa/k1/gpt-4o',
      // /v1/messages requests are translated to chat completions for an openai provider.
      paths: { chat: '/v1/chat/completions', completions: '/v1/completions', embeddings: '/v1/embeddings', messages: '/v1/chat/completions', responses: '/v1/responses', count_tokens: null },
    },
    {
      id: 'az/main/gpt-4o-eu',
      paths: {
        chat: '/openai/deployments/gpt-4o-eu/chat/completions?api-version=2024-06-01',
        completions: '/openai/deployments/gpt-4o-eu/completions?api-version=2024-06-01',
        embeddings: '/openai/deployments/gpt-4o-eu/embeddings?api-version=2024-06-01',
        messages: '/openai/deployments/gpt-4o-eu/chat/completions?api-version=2024-06-01',
        responses: null,
        count_tokens: null,
      },
    },
    {
      id: 'an/a/claude-sonnet-4',
      // Chat requests are translated to the Messages API for an anthropic provider.
      paths: { chat: '/v1/messages', completions: null, embeddings: null, messages: '/v1/messages', responses: null, count_tokens: '/v1/messages/count_tokens' },
    },
  ]
  for (const c of pathCases) {
    it(`paths of ${c.id}`, () => {
      expect({ ...deployment(c.id).paths }).toEqual(c.paths)
    })
  }

  it('byEndpoint keeps only deployments that serve the endpoint', () => {
    const ids = (name: string, e: Endpoint) => model(name).byEndpoint[e].map((d) => d.id)
    expect(ids('gpt-4o', 'chat')).toEqual(['oa/k1/gpt-4o', 'oa/k2/gpt-4o', 'az/main/gpt-4o-eu'])
    expect(ids('gpt-4o', 'messages')).toEqual(['oa/k1/gpt-4o', 'oa/k2/gpt-4o', 'az/main/gpt-4o-eu'])
    expect(ids('claude', 'messages')).toEqual(['an/a/claude-sonnet-4'])
    expect(ids('claude', 'embeddings')).toEqual([])
    expect(ids('claude', 'completions')).toEqual([])
  })

  const headerCases: { id: string; expected: [string, string][] }[] = [
    {
      id: 'oa/k2/gpt-4o',
      expected: [
        ['authorization', `Bearer ${secrets.oa2}`],
        ['openai-organization', 'org-1'], // static headers are lower-cased
        ['user-agent', 'sluice/0.1'],
      ],
    },
    { id: 'az/main/gpt-4o-eu', expected: [['api-key', secrets.az], ['user-agent', 'sluice/0.1']] },
    {
      id: 'an/a/claude-sonnet-4',
      expected: [['x-api-key', secrets.an], ['anthropic-version', '2023-06-01'], ['user-agent', 'sluice/0.1']],
    },
  ]
  for (const c of headerCases) {
    it(`key headers of ${c.id}`, () => {
      expect(headerPairs(deployment(c.id))).toEqual(c.expected)
    })
  }
})

describe('compile: providers', () => {
  it('origin, timeouts in ms and passthrough paths', () => {
    const oa = runtime.providers.get('oa')
    expect(oa?.origin).toBe('http://127.0.0.1:9')
    expect(oa?.timeouts).toEqual({ connectMs: 10_000, firstByteMs: 120_000, idleMs: 60_000, totalMs: 600_000 })
    expect(oa?.passthroughPath('/files/abc?x=1')).toBe('/v1/files/abc?x=1')
    const az = runtime.providers.get('az')
    expect(az?.origin).toBe('https://res.openai.azure.com')
    expect(az?.passthroughPath('/files')).toBe('/openai/files?api-version=2024-06-01')
    expect(az?.passthroughPath('/files?limit=1')).toBe('/openai/files?limit=1&api-version=2024-06-01')
  })

  it('providers on one origin with the same pool settings share a dispatcher', () => {
    expect(runtime.providers.get('oa')?.dispatcher).toBe(runtime.providers.get('an')?.dispatcher)
    expect(dispatchersOf(runtime).size).toBe(2)
  })

  it('passthrough points at the configured provider', () => {
    expect(runtime.passthrough).toBe(runtime.providers.get('oa'))
  })

  it('indexes every key so that whole keys and pieces of them are found', () => {
    for (const key of Object.values(secrets)) {
      expect(runtime.secrets.holds(`quoted: ${key}.`)).toBe(true)
      expect(runtime.secrets.holds(`prefix ${key.slice(0, 8)}`)).toBe(true)
    }
    expect(runtime.secrets.holds('nothing secret here')).toBe(false)
  })
})

describe('compile: model list', () => {
  it('modelListJson has OpenAI list shape', () => {
    expect(JSON.parse(runtime.modelListJson)).toEqual({
      object: 'list',
      data: [
        { id: 'gpt-4o', object: 'model', created: Math.floor(now / 1000), owned_by: 'openai' },
        { id: 'claude', object: 'model', created: Math.floor(now / 1000), owned_by: 'sluice' },
        { id: 'llama', object: 'model', created: Math.floor(now / 1000), owned_by: 'sluice' },
      ],
    })
  })

  it('modelJson is the list entry', () => {
    expect(JSON.parse(model('claude').modelJson)).toEqual({ id: 'claude', object: 'model', created: 1_700_000_123, owned_by: 'sluice' })
  })
})

describe('compile: runtime', () => {
  it('carries generation, source, loadedAt and server settings', () => {
    expect(runtime.generation).toBe(7)
    expect(runtime.source).toBe('sluice.yaml')
    expect(runtime.loadedAt).toBe(now)
    expect(runtime.server).toEqual({ host: '127.0.0.1', port: 4000, metricsPort: null, bodyLimit: 10 * 1024 * 1024, drainTimeoutMs: 30_000, keepAliveTimeoutMs: 65_000, requestTimeoutMs: 60_000 })
    expect(runtime.log).toEqual({ level: 'info', accessLog: true })
  })

  it('is frozen, down to deployments, paths and key headers', () => {
    expect(Object.isFrozen(runtime)).toBe(true)
    expect(Object.isFrozen(runtime.server)).toBe(true)
    expect(Object.isFrozen(runtime.log)).toBe(true)
    for (const p of runtime.providers.values()) {
      expect(Object.isFrozen(p)).toBe(true)
      expect(Object.isFrozen(p.keys)).toBe(true)
      expect(Object.isFrozen(p.timeouts)).toBe(true)
    }
    for (const m of runtime.models.values()) {
      expect(Object.isFrozen(m)).toBe(true)
      expect(Object.isFrozen(m.deployments)).toBe(true)
      expect(Object.isFrozen(m.byEndpoint)).toBe(true)
      for (const d of m.deployments) {
        expect(Object.isFrozen(d)).toBe(true)
        expect(Object.isFrozen(d.paths)).toBe(true)
        expect(Object.isFrozen(d.key)).toBe(true)
        expect(Object.isFrozen(d.key.headers)).toBe(true)
      }
    }
    expect(() => {
      ;(runtime as { generation: number }).generation = 8
    }).toThrow(TypeError)
  })

  it('no secret appears in deployment ids, model JSON or the list JSON', () => {
    const visible: string[] = [runtime.modelListJson]
    for (const m of runtime.models.values()) {
      visible.push(m.modelJson, JSON.stringify(m.name))
      for (const d of m.deployments) visible.push(JSON.stringify(d.id), d.upstreamModel)
    }
    for (const p of runtime.providers.values()) visible.push(p.id, p.origin, ...p.keys.map((k) => k.id))
    for (const text of visible) {
      for (const secret of Object.values(secrets)) expect(text).not.toContain(secret)
    }
  })
})

describe('compile: defaults per dialect', () => {
  const local = new UpstreamPools()
  afterAll(async () => {
    await local.close()
  })

  it('azure defaults api-version 2024-10-21 and encodes the deployment name', () => {
    const text = `providers:
  az:
    type: azure
    base_url: https://res.openai.azure.com
    keys:
      - id: k
        key: abc
models:
  m:
    targets:
      - provider: az
        model: my deploy/1
`
    const rt = compile(parseConfigText(text, 'x.yaml', {}), { generation: 1, source: 'x.yaml', pools: local, now: () => 0 })
    expect(rt.models.get('m')?.deployments[0]?.paths.chat).toBe('/openai/deployments/my%20deploy%2F1/chat/completions?api-version=2024-10-21')
  })

  it('openai and anthropic default to the official base URLs', () => {
    const text = `providers:
  oa:
    type: openai
    keys:
      - id: k
        key: abc
  an:
    type: anthropic
    anthropic_version: 2099-01-01
    keys:
      - id: k
        key: def
`
    const rt = compile(parseConfigText(text, 'x.yaml', {}), { generation: 1, source: 'x.yaml', pools: local, now: () => 0 })
    expect(rt.providers.get('oa')?.origin).toBe('https://api.openai.com')
    expect(rt.providers.get('an')?.origin).toBe('https://api.anthropic.com')
    expect(rt.providers.get('an')?.keys[0]?.headers).toEqual(['x-api-key', 'def', 'anthropic-version', '2099-01-01', 'user-agent', 'sluice/0.1'])
    expect(rt.passthrough).toBeNull()
    expect(JSON.parse(rt.modelListJson)).toEqual({ object: 'list', data: [] })
  })
})

describe('compile: routes, aliases, wildcards, splits and probes', () => {
  const text = `
providers:
  oa:
    type: openai
    base_url: http://127.0.0.1:9/v1
    keys: [{ id: k1, key: sk-one-0123456789 }, { id: k2, key: sk-two-0123456789, rpm: 40 }]
    failover: { enabled: true, failure_threshold: 4 }
    health_check: { model: tiny, interval: 5s }
  local:
    type: openai
    base_url: http://127.0.0.1:9/v1
    keys: [{ id: l1, key: sk-local-0123456789 }]
    failover: { enabled: true }
    health_check: { path: /health }
models:
  chat:
    strategy: weighted
    aliases: [chat-latest, default]
    fallbacks: [llama-*-x]
    split: { stable: 9, canary: 1 }
    targets:
      - { provider: oa, model: big, weight: 3, group: stable }
      - { provider: local, model: small, group: canary }
  "llama-*":
    targets: [{ provider: local }]
`
  const pools = new UpstreamPools()
  const rt = compile(parseConfigText(text, 'sluice.yaml', {}), { generation: 1, source: 'sluice.yaml', pools, now: () => now })
  afterAll(() => pools.close())

  it('an alias is the same route, listed under its own name', () => {
    const chat = rt.models.get('chat')
    expect(chat).toBeDefined()
    expect(rt.models.get('chat-latest')).toBe(chat)
    expect(rt.resolveModel('default')).toBe(chat)
    const listed = (JSON.parse(rt.modelListJson) as { data: { id: string }[] }).data.map((m) => m.id)
    expect(listed).toEqual(['chat', 'chat-latest', 'default'])
  })

  it('a wildcard route is built once per name that matches, with that name sent upstream', () => {
    expect(rt.models.get('llama-3')).toBeUndefined()
    const a = rt.resolveModel('llama-3')
    expect(a?.name).toBe('llama-3')
    expect(a?.deployments.map((d) => d.upstreamModel)).toEqual(['llama-3'])
    expect(rt.resolveModel('llama-3')).toBe(a)
    expect(rt.resolveModel('mistral')).toBeNull()
  })

  it('targets carry weight and group; the split holds each group\'s deployments; the strategy is the route\'s own', () => {
    const chat = rt.models.get('chat')!
    expect(chat.strategy.name).toBe('weighted')
    expect(chat.fallbacks).toEqual(['llama-*-x'])
    expect(chat.deployments.map((d) => [d.id, d.weight, d.group])).toEqual([
      ['oa/k1/big', 3, 'stable'],
      ['oa/k2/big', 3, 'stable'],
      ['local/l1/small', 1, 'canary'],
    ])
    expect(chat.split?.totalWeight).toBe(10)
    expect(chat.split?.abHeader).toBeNull()
    expect(chat.split?.groups.map((g) => [g.name, g.byEndpoint.chat.map((d) => d.id)])).toEqual([
      ['stable', ['oa/k1/big', 'oa/k2/big']],
      ['canary', ['local/l1/small']],
    ])
  })

  it('deployments of one key share its breaker; each deployment has its own latency estimate', () => {
    const chat = rt.models.get('chat')!
    const wild = rt.resolveModel('llama-9')!
    expect(chat.deployments[2]?.breaker).toBe(wild.deployments[0]?.breaker)
    expect(chat.deployments[2]?.ttft).not.toBe(wild.deployments[0]?.ttft)
    expect(chat.deployments[0]?.breaker.id).toBe('oa~k1')
  })

  it('one probe per key of a provider with failover: a one-token chat, or a GET for a path check', () => {
    expect(rt.probes.map((p) => [p.id, p.method, p.path, p.intervalMs, (p.pacer as { id?: string } | null)?.id ?? null])).toEqual([
      ['oa~k1', 'POST', '/v1/chat/completions', 5_000, 'oa/k1'],
      ['oa~k2', 'POST', '/v1/chat/completions', 5_000, 'oa/k2'],
      ['local~l1', 'GET', '/health', 30_000, null],
    ])
    expect(JSON.parse(rt.probes[0]!.body!.toString())).toEqual({ model: 'tiny', messages: [{ role: 'user', content: 'ping' }], max_tokens: 1 })
  })

  it('the ejection cap counts each model\'s keys: the last key of llama-* is never out for soft failures', () => {
    const breakers = new BreakerRegistry(() => 0.5)
    const own = compile(parseConfigText(text, 'sluice.yaml', {}), { generation: 1, source: 's', pools, breakers, now: () => now })
    const [k1, k2, l1] = own.models.get('chat')!.deployments.map((d) => d.breaker)
    const fail = (b: typeof k1, n: number): void => { for (let i = 0; i < n; i++) b!.failed(0, 'http_5xx', false) }
    fail(l1, 5)
    expect([l1!.state(0), l1!.demoted(0)]).toEqual(['closed', true]) // alone behind llama-*
    fail(k1, 4) // oa's failure_threshold
    expect(k1!.state(0)).toBe('open') // chat: 1 of its 3 keys may be out
    fail(k2, 4)
    expect([k2!.state(0), k2!.demoted(0)]).toEqual(['closed', true])
  })

  it('a reload keeps each key\'s breaker and latency estimate', () => {
    const breakers = new BreakerRegistry()
    const latencies = new Map<string, PeakEwma>()
    const parsed = parseConfigText(text, 'sluice.yaml', {})
    const first = compile(parsed, { generation: 1, source: 's', pools, breakers, latencies, now: () => now })
    const second = compile(parsed, { generation: 2, source: 's', pools, breakers, latencies, now: () => now })
    expect(second.models.get('chat')?.deployments[0]?.breaker).toBe(first.models.get('chat')?.deployments[0]?.breaker)
    expect(second.models.get('chat')?.deployments[0]?.ttft).toBe(first.models.get('chat')?.deployments[0]?.ttft)
    expect(second.models.get('chat')?.strategy).not.toBe(first.models.get('chat')?.strategy)
  })
})
