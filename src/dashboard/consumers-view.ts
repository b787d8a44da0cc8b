// The consumers panel's data, read through the admin API like the rest of the stream: the
// consumers (the first ones by name) with their usage per UTC day and their budgets. A day that
// is over no longer changes, so the whole window is read once per UTC day (and when a consumer
// appears), and each refresh after that reads today only: the cost of a refresh follows today's
// records, not two weeks'.

const base = '/api/admin'

type Read = (path: string, query?: string) => Promise<Record<string, unknown>>

interface Day { day: string; requests: number; prompt_tokens: number; completion_tokens: number; cost_usd: number }
interface Usage { consumer_id: string | null; days: Day[]; budget: unknown }
interface Daily { days: string[]; data: Usage[] }

export class ConsumersView {
  #window: { days: string[]; usage: Map<string | null, Usage> } | null = null

  constructor(
    private readonly read: Read,
    /** Consumers in the stream: beyond this many, the page shows the first ones by name. */
    private readonly shown: number,
    /** UTC days, today included. */
    private readonly days: number,
  ) {}

  async refresh(): Promise<{ days: string[]; list: unknown[] }> {
    const list = (((await this.read(`${base}/consumers`)).data ?? []) as { id: string }[]).slice(0, this.shown)
    if (list.length === 0) return { days: this.#window?.days ?? [], list: [] }
    const today = (await this.read(`${base}/usage/daily`, 'days=1')) as unknown as Daily
    let window = this.#window
    // A consumer new since the window was read may have a past (created with its records).
    if (window === null || window.days.at(-1) !== today.days[0] || list.some((c) => !window?.usage.has(c.id))) {
      const all = (await this.read(`${base}/usage/daily`, `days=${this.days}`)) as unknown as Daily
      window = this.#window = { days: all.days, usage: byConsumer(all) }
    }
    const now = byConsumer(today)
    const day = window.days.at(-1)
    return { days: window.days, list: list.map((c) => ({ ...c, usage: merged(window.usage.get(c.id), now.get(c.id), day) })) }
  }
}

function byConsumer(d: Daily): Map<string | null, Usage> {
  return new Map(d.data.map((u) => [u.consumer_id, u]))
}

/** The window's past days with today as it is now, and the budget as it is now. */
function merged(past: Usage | undefined, now: Usage | undefined, today: string | undefined) {
  if (past === undefined && now === undefined) return null
  const days = [...(past?.days ?? []).filter((d) => d.day !== today), ...(now?.days ?? [])]
  const totals = { requests: 0, prompt_tokens: 0, completion_tokens: 0, cost_usd: 0 }
  for (const d of days) {
    totals.requests += d.requests
    totals.prompt_tokens += d.prompt_tokens
    totals.completion_tokens += d.completion_tokens
    totals.cost_usd += d.cost_usd
  }
  return { days, totals, budget: now?.budget ?? past?.budget ?? null }
}
