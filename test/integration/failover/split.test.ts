import { Agent, request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectErrorBody, send } from '../../support/data-plane.js'
import { startStack, type Stack } from '../../support/harness.js'
import { inParallel, provider, secretOf, within } from '../../support/failover.js'

// A split sends each request to one group of targets. A canary (no A/B test) draws the group per
// request by weight: over 10 000 requests a 90/10 split lands within ±2 points. An A/B test lets
// the X-Test-Group header choose, and without it keeps a caller in one group: the same
// X-Session-ID always gets the same group, and many sessions spread over both.

const total = 10_000

describe('failover: traffic splits', () => {
  let stack: Stack
  let agent: Agent

  beforeAll(async () => {
    stack = await startStack({
      sim: {
        keys: Object.fromEntries(['stable', 'canary', 'control', 'experiment'].map((k) => [secretOf(k), { id: k }])),
        completion_tokens: 1,
      },
      gateway: (simUrl) => ({
        providers: Object.fromEntries(['stable', 'canary', 'control', 'experiment'].map((k) => [`p-${k}`, provider(simUrl, [{ id: k, max_concurrent: 200 }])])),
        queue: { per_consumer: 1000 },
        models: {
          rollout: {
            targets: [
              { provider: 'p-stable', model: 'up-rollout', group: 'stable' },
              { provider: 'p-canary', model: 'up-rollout-next', group: 'canary' },
            ],
            split: { stable: 90, canary: 10 },
          },
          trial: {
            targets: [
              { provider: 'p-control', model: 'up-trial', group: 'control' },
              { provider: 'p-experiment', model: 'up-trial-next', group: 'experiment' },
            ],
            split: { control: 50, experiment: 50 },
            ab_test: {},
          },
        },
      }),
    })
    agent = new Agent({ connections: 64, pipelining: 1 })
  })
  afterAll(async () => {
    await agent?.close()
    await stack?.close()
  })

  const body = (model: string): string => JSON.stringify({ model, messages: [{ role: 'user', content: 'x' }], max_tokens: 1 })

  /** POST a chat request; the split group it was given and the deployment that answered. */
  async function ask(model: string, headers: Record<string, string> = {}): Promise<{ group: string; deployment: string }> {
    const res = await request(`${stack.gw.url}/v1/chat/completions`, {
      method: 'POST',
      dispatcher: agent,
      headers: { 'content-type': 'application/json', ...headers },
      body: body(model),
    })
    await res.body.dump()
    expect(res.statusCode).toBe(200)
    return { group: String(res.headers['x-sluice-group']), deployment: String(res.headers['x-sluice-deployment']) }
  }

  it(`canary 90/10: over ${total} requests the canary gets 10 % ± 2 points, and each group is served by its own targets`, async () => {
    const results = await inParallel(total, 48, () => ask('rollout'))
    const counts: Record<string, number> = {}
    for (const r of results) counts[r.group] = (counts[r.group] ?? 0) + 1
    expect(Object.keys(counts).sort()).toEqual(['canary', 'stable'])
    const canaryShare = (counts.canary ?? 0) / total
    expect(canaryShare).toBeGreaterThanOrEqual(0.08)
    expect(canaryShare).toBeLessThanOrEqual(0.12)

    for (const r of results) {
      expect(r.deployment).toBe(r.group === 'canary' ? 'p-canary/canary/up-rollout-next' : 'p-stable/stable/up-rollout')
    }
    // The upstream agrees, key by key (its stats count past the record log's capacity), once it
    // has closed every response (a client can hold its answer a moment before that).
    await within(stack.sim.waitForRequests(total), 5_000, 'the simulator to finish every request')
    const keys = stack.sim.stats().keys
    expect(keys.canary?.ok).toBe(counts.canary)
    expect(keys.stable?.ok).toBe(counts.stable)
  }, 90_000) // 10,000 requests through the whole gateway: ~10 s on a quiet machine, much more on a busy one

  it('A/B: X-Test-Group: experiment always gets the experiment', async () => {
    const results = await inParallel(50, 10, (i) => ask('trial', { 'x-test-group': 'experiment', 'x-session-id': `ab-session-${i}` }))
    expect(new Set(results.map((r) => r.group))).toEqual(new Set(['experiment']))
    expect(new Set(results.map((r) => r.deployment))).toEqual(new Set(['p-experiment/experiment/up-trial-next']))
    const control = await inParallel(20, 10, () => ask('trial', { 'x-test-group': 'control', 'x-session-id': 'ab-session-0' }))
    expect(new Set(control.map((r) => r.group))).toEqual(new Set(['control']))
  })

  it('A/B: an unknown group is refused with 400 invalid_header', async () => {
    const res = await send(stack.gw.url, '/v1/chat/completions', { body: body('trial'), headers: { 'X-Test-Group': 'nonsense' } })
    expect(res.status).toBe(400)
    const answer = res.json<{ error: { param: string | null } }>()
    expectErrorBody(answer, 'invalid_header', answer.error.param)
    expect(answer.error.param?.toLowerCase()).toBe('x-test-group')
  })

  it('A/B without the header: one session stays in one group over 50 requests; 200 sessions spread over both', async () => {
    for (const session of ['sticky-a', 'sticky-b', 'sticky-c']) {
      const results = await inParallel(50, 10, () => ask('trial', { 'x-session-id': session }))
      expect(new Set(results.map((r) => r.group)).size, session).toBe(1)
    }
    const groups = await inParallel(200, 20, (i) => ask('trial', { 'x-session-id': `session-${i}` }).then((r) => r.group))
    const experiment = groups.filter((g) => g === 'experiment').length
    expect(experiment).toBeGreaterThanOrEqual(60) // 50/50 by weight: 100 ± 40
    expect(experiment).toBeLessThanOrEqual(140)
    // Asked again, every session gets the group it got the first time.
    const again = await inParallel(200, 20, (i) => ask('trial', { 'x-session-id': `session-${i}` }).then((r) => r.group))
    expect(again).toEqual(groups)
  })
})
