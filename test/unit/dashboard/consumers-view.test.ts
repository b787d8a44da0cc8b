import { describe, expect, it } from 'vitest'
import { ConsumersView } from '../../../src/dashboard/consumers-view.js'

// The consumers panel reads the admin API: the whole window of days once per UTC day, today only
// on every other refresh, and nothing of the ledger while there is no consumer to show.

const totals = (requests: number, cost: number) => ({ requests, prompt_tokens: requests * 10, completion_tokens: requests, cost_usd: cost })

function fakeApi() {
  const calls: string[] = []
  const state = {
    consumers: [{ id: 'c1', name: 'a' }, { id: 'c2', name: 'b' }, { id: 'c3', name: 'c' }] as { id: string; name: string }[],
    today: '2026-12-07',
    /** Per consumer id: its days, oldest first. */
    days: new Map<string, { day: string; requests: number; prompt_tokens: number; completion_tokens: number; cost_usd: number }[]>(),
    budget: { usd: 1, period: 'day', period_start: '2026-12-07T00:00:00.000Z', spent_usd: 0 },
  }
  const read = async (path: string, query = ''): Promise<Record<string, unknown>> => {
    calls.push(query === '' ? path : `${path}?${query}`)
    if (path === '/api/admin/consumers') return { data: state.consumers }
    const n = Number(new URLSearchParams(query).get('days'))
    const end = Date.parse(`${state.today}T00:00:00Z`)
    const days = Array.from({ length: n }, (_, i) => new Date(end - (n - 1 - i) * 86_400_000).toISOString().slice(0, 10))
    const data = state.consumers.map((c) => ({ consumer_id: c.id, days: (state.days.get(c.id) ?? []).filter((d) => days.includes(d.day)), budget: c.id === 'c1' ? state.budget : null }))
    return { days, data }
  }
  return { calls, state, read }
}

describe('ConsumersView', () => {
  it('reads the window once, then today only; a new consumer or a new UTC day reads the window again', async () => {
    const api = fakeApi()
    api.state.days.set('c1', [{ day: '2026-12-01', ...totals(2, 0.5) }, { day: '2026-12-07', ...totals(1, 0.25) }])
    const view = new ConsumersView(api.read, 100, 14)

    const first = await view.refresh()
    expect(api.calls).toEqual(['/api/admin/consumers', '/api/admin/usage/daily?days=1', '/api/admin/usage/daily?days=14'])
    expect(first.days).toHaveLength(14)
    expect(first.list[0]).toMatchObject({ id: 'c1', usage: { days: [{ day: '2026-12-01' }, { day: '2026-12-07', requests: 1 }], totals: totals(3, 0.75), budget: api.state.budget } })
    expect(first.list[1]).toMatchObject({ id: 'c2', usage: { days: [], totals: totals(0, 0), budget: null } })

    // Today moves on; the past is not read again.
    api.calls.length = 0
    api.state.days.set('c1', [{ day: '2026-12-01', ...totals(2, 0.5) }, { day: '2026-12-07', ...totals(4, 1) }])
    api.state.budget = { ...api.state.budget, spent_usd: 1 }
    const second = await view.refresh()
    expect(api.calls).toEqual(['/api/admin/consumers', '/api/admin/usage/daily?days=1'])
    expect(second.list[0]).toMatchObject({ usage: { days: [{ day: '2026-12-01' }, { day: '2026-12-07', requests: 4 }], totals: totals(6, 1.5), budget: { spent_usd: 1 } } })

    // A new consumer may come with a past: the window is read again.
    api.calls.length = 0
    api.state.consumers = [...api.state.consumers, { id: 'c4', name: 'd' }]
    api.state.days.set('c4', [{ day: '2026-12-02', ...totals(7, 0) }])
    const fourth = await view.refresh()
    expect(api.calls).toEqual(['/api/admin/consumers', '/api/admin/usage/daily?days=1', '/api/admin/usage/daily?days=14'])
    expect(fourth.list[3]).toMatchObject({ id: 'c4', usage: { days: [{ day: '2026-12-02', requests: 7 }] } })

    api.calls.length = 0
    api.state.today = '2026-12-08'
    const third = await view.refresh()
    expect(api.calls).toEqual(['/api/admin/consumers', '/api/admin/usage/daily?days=1', '/api/admin/usage/daily?days=14'])
    expect(third.days.at(-1)).toBe('2026-12-08')
    expect(third.days[0]).toBe('2026-11-25')
  })

  it('shows the first consumers by name only, and reads no usage while there is none', async () => {
    const api = fakeApi()
    expect((await new ConsumersView(api.read, 2, 14).refresh()).list.map((c) => (c as { id: string }).id)).toEqual(['c1', 'c2'])
    api.calls.length = 0
    api.state.consumers = []
    expect(await new ConsumersView(api.read, 2, 14).refresh()).toEqual({ days: [], list: [] })
    expect(api.calls).toEqual(['/api/admin/consumers'])
  })
})
