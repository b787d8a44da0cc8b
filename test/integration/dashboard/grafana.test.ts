import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { send } from '../../support/data-plane.js'
import { startStack, type Stack } from '../../support/harness.js'

// docs/grafana/sluice.json is importable as is, and every metric it queries is one /metrics exposes.

interface Panel { id: number; type: string; title: string; gridPos?: { x: number; y: number; w: number; h: number }; targets?: { expr: string }[] }
interface GrafanaDashboard { uid: string; title: string; panels: Panel[]; templating: { list: { name: string; query: unknown }[] } }

const dashboard = JSON.parse(readFileSync(new URL('../../../docs/grafana/sluice.json', import.meta.url), 'utf8')) as GrafanaDashboard

/** Every sluice_* name a query of the dashboard reads. */
function queriedMetrics(d: GrafanaDashboard): Set<string> {
  const exprs = [...d.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)), ...d.templating.list.map((v) => JSON.stringify(v.query))]
  return new Set(exprs.flatMap((e) => e.match(/\bsluice_[a-z0-9_]+/g) ?? []))
}

/** Every series name /metrics can carry: each family, and a histogram's _bucket, _sum and _count. */
function exposedMetrics(text: string): Set<string> {
  const names = new Set<string>()
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name, type] = m as unknown as [string, string, string]
    names.add(name)
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s)
  }
  return names
}

describe('the Grafana dashboard', () => {
  let stack: Stack
  beforeAll(async () => {
    stack = await startStack()
  })
  afterAll(() => stack?.close())

  it('queries only metrics that /metrics exposes, and covers the questions of the issue', async () => {
    const exposed = exposedMetrics((await send(stack.gw.url, '/metrics')).text)
    const queried = queriedMetrics(dashboard)
    expect([...queried].filter((m) => !exposed.has(m))).toEqual([])
    // Queues, per-key rates vs limits, 429s by type, breakers, latency, spend.
    for (const m of ['sluice_queue_depth', 'sluice_pacer_rate_rpm', 'sluice_pacer_limit_rpm', 'sluice_upstream_429_total', 'sluice_breaker_state', 'sluice_concurrency_limit', 'sluice_upstream_ttft_seconds_bucket', 'sluice_spend_usd_total']) {
      expect(queried, m).toContain(m)
    }
  })

  it('is importable: unique panel ids, every panel placed on the 24-column grid, every target with a query', () => {
    const ids = dashboard.panels.map((p) => p.id)
    expect(new Set(ids).size).toBe(ids.length)
    expect(dashboard.uid).toMatch(/^[a-z0-9-]{1,40}$/)
    for (const p of dashboard.panels) {
      expect(p.gridPos, p.title).toBeDefined()
      expect((p.gridPos?.x ?? 0) + (p.gridPos?.w ?? 0), p.title).toBeLessThanOrEqual(24)
      if (p.type !== 'row') expect(p.targets?.length, p.title).toBeGreaterThan(0)
      for (const t of p.targets ?? []) expect(t.expr.length, p.title).toBeGreaterThan(0)
    }
  })
})
